"""The stored attendance month as each role may see it (the dashboard's and the circular's reads).

``windowqa attendance classify`` (and the daily run, a leave import, the demo) classify a month and
store it in the tables of :mod:`models.attendance_db`; this module only reads them. Staff get their
own circular line, their own half-days and the presence flags that name them; inspectors, managers
and admins get the whole hall. A month nobody has classified yet reads as ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.attendance import HalfDay, HalfDayStatus
from models.attendance_db import (
    AttendanceMonthRow,
    CoverageFlagRow,
    HalfDayRow,
    PresenceFlagRow,
    StaffMonthRow,
    WindowMonthRow,
    leave_decided_after,
)
from models.db import Staff, UserRole
from scoring.access.policy import require, staff_scope
from scoring.accounts import Actor

_HALL_READERS = {UserRole.INSPECTOR, UserRole.MANAGER, UserRole.ADMIN}


@dataclass(frozen=True)
class StaffAttendance:
    """One staff member's line of the month (counts as in the circular, 按月通报)."""

    staff_no: str
    name: str
    window: str | None
    working_days: int
    late_count: int
    late_minutes: int
    early_count: int
    early_minutes: int
    missing_checks: int
    absenteeism_days: float
    leave_days: float
    leave_by_type: str  # "事假 1, 病假 0.5"
    checks_due: int
    checks_on_time: int
    presence_flags: int
    punctuality_rate: float | None  # on-time checks over checks due, 4 decimals


@dataclass(frozen=True)
class WindowAttendance:
    """One window's line of the month."""

    window: str
    staff_nos: str
    late_count: int
    early_count: int
    missing_checks: int
    absenteeism_days: float
    leave_days: float
    checks_due: int
    checks_on_time: int
    coverage_flags: int
    presence_flags: int
    punctuality_rate: float | None


@dataclass(frozen=True)
class CoverageLine:
    """A window left without staff in one half-day."""

    window: str
    day: date
    half: str
    issue: str
    staff_nos: str
    detail: str


@dataclass(frozen=True)
class PresenceLine:
    """An absence from the post seen by a window camera."""

    window: str
    issue: str
    start: datetime
    end: datetime
    minutes: float
    staff_nos: str


@dataclass(frozen=True)
class HalfDayLine:
    """One working half-day that was not on time (the circular's annex, 明细)."""

    staff_no: str
    day: date
    half: str
    status: str
    late_minutes: int
    early_minutes: int
    missing_checks: int
    leave_type: str | None
    absenteeism: str | None


@dataclass(frozen=True)
class AttendanceMonthView:
    """What the actor may see of a classified month, and how far it was classified."""

    month: str
    through: date
    classified_at: datetime
    staff: list[StaffAttendance]
    windows: list[WindowAttendance]
    coverage: list[CoverageLine]
    presence: list[PresenceLine]
    days: list[HalfDayLine]
    # leave decisions made since the month was classified (the next daily run counts them)
    leave_decisions_since: int = 0


def _rate(on_time: int, due: int) -> float | None:
    return round(on_time / due, 4) if due else None


def attendance_month(session: Session, actor: Actor, month: str, *, staff_id: int | None = None) -> AttendanceMonthView | None:
    """The stored month as the actor may see it, or None when it has not been classified.

    Args:
        staff_id: one staff member (``Staff.id``); a staff actor always gets their own.

    Raises:
        AccessDenied: a staff member asked for someone else, or a role that may not see the hall.
    """
    sid = staff_scope(actor, staff_id)
    if sid is None:
        require(actor, _HALL_READERS, "see the hall's attendance")
    head = session.scalar(select(AttendanceMonthRow).where(AttendanceMonthRow.month == month))
    if head is None:
        return None
    staff_q = (select(StaffMonthRow, Staff.staff_no, Staff.name).join(Staff, Staff.id == StaffMonthRow.staff_id)
               .where(StaffMonthRow.month_id == head.id).order_by(Staff.staff_no))
    if sid is not None:
        staff_q = staff_q.where(StaffMonthRow.staff_id == sid)
    staff = [_staff_line(r, no, name) for r, no, name in session.execute(staff_q)]
    own = session.scalar(select(Staff.staff_no).where(Staff.id == sid)) if sid is not None else None
    presence = [
        PresenceLine(p.window_code, p.issue.value, p.start, p.end, round((p.end - p.start).total_seconds() / 60.0, 1),
                     ",".join(p.staff_nos))
        for p in session.scalars(select(PresenceFlagRow).where(PresenceFlagRow.month_id == head.id)
                                 .order_by(PresenceFlagRow.window_code, PresenceFlagRow.start))
        if own is None or own in p.staff_nos
    ]
    days = _days(session, head.id, sid)
    first = date.fromisoformat(f"{month}-01")
    stale = leave_decided_after(session, first, head.through, head.classified_at)
    if own is not None:
        return AttendanceMonthView(month, head.through, head.classified_at, staff, [], [], presence, days, stale)
    windows = [
        WindowAttendance(w.window_code, ",".join(w.staff_nos), w.late_count, w.early_count, w.missing_checks,
                         w.absenteeism_days, w.leave_days, w.checks_due, w.checks_on_time, w.coverage_flags,
                         w.presence_flags, _rate(w.checks_on_time, w.checks_due))
        for w in session.scalars(select(WindowMonthRow).where(WindowMonthRow.month_id == head.id).order_by(WindowMonthRow.window_code))
    ]
    coverage = [
        CoverageLine(c.window_code, c.day, c.half.value, c.issue.value, ",".join(c.staff_nos), c.detail)
        for c in session.scalars(select(CoverageFlagRow).where(CoverageFlagRow.month_id == head.id)
                                 .order_by(CoverageFlagRow.day, CoverageFlagRow.half, CoverageFlagRow.window_code))
    ]
    return AttendanceMonthView(month, head.through, head.classified_at, staff, windows, coverage, presence, days, stale)


def _staff_line(r: StaffMonthRow, staff_no: str, name: str) -> StaffAttendance:
    by_type = ", ".join(f"{k} {v:g}" for k, v in sorted((r.leave_by_type or {}).items()))
    return StaffAttendance(
        staff_no, name, r.window_code, r.working_days, r.late_count, r.late_minutes, r.early_count, r.early_minutes,
        r.missing_checks, r.absenteeism_days, r.leave_days, by_type, r.checks_due, r.checks_on_time, r.presence_flags,
        _rate(r.checks_on_time, r.checks_due),
    )


def _days(session: Session, month_id: int, sid: int | None) -> list[HalfDayLine]:
    q = (select(HalfDayRow, Staff.staff_no).join(Staff, Staff.id == HalfDayRow.staff_id)
         .where(HalfDayRow.month_id == month_id, HalfDayRow.status != HalfDayStatus.ON_TIME))
    if sid is not None:
        q = q.where(HalfDayRow.staff_id == sid)
    rows = sorted(session.execute(q), key=lambda r: (r[1], r[0].day, r[0].half is not HalfDay.MORNING))
    return [
        HalfDayLine(no, h.day, h.half.value, h.status.value, h.late_minutes, h.early_minutes, h.missing_checks,
                    h.leave_type, h.absenteeism.value if h.absenteeism else None)
        for h, no in rows
    ]


__all__ = [
    "AttendanceMonthView", "CoverageLine", "HalfDayLine", "PresenceLine", "StaffAttendance", "WindowAttendance",
    "attendance_month",
]
