"""Appeals against the attendance classification (考勤申诉): like a flag's appeal, decided by a manager.

A staff member contests one of their classified half-days that counts against them (late, early,
a missing check, 旷工) once, with the reason; a manager's decision is final. Granting it makes the
half-day count as on time: the stored half-day and the circular's staff and window lines change at
once (by the half-day's counts, :class:`models.attendance.HalfDayCounts`, the same the circular sums),
and the classification applies the granted appeal again whenever the month is classified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.attendance import AttendanceAppealStatus, HalfDay, HalfDayCounts, HalfDayStatus
from models.attendance_db import AttendanceAppealRow, HalfDayRow, StaffMonthRow, WindowMonthRow
from models.db import Staff, UserRole
from scoring.access.policy import DEFAULT_POLICY, AccessPolicy, NotFound, redact, require, staff_scope
from scoring.accounts import Actor, audit

DECIDE_ATTENDANCE_APPEALS = {UserRole.MANAGER}
READ_ATTENDANCE_APPEALS = {UserRole.MANAGER, UserRole.ADMIN, UserRole.INSPECTOR}
# what a staff member may contest: the statuses that count against them
APPEALABLE = frozenset({HalfDayStatus.LATE, HalfDayStatus.EARLY_LEAVE, HalfDayStatus.LATE_AND_EARLY,
                        HalfDayStatus.MISSING_CHECK, HalfDayStatus.ABSENTEEISM})


@dataclass(frozen=True)
class AttendanceAppealLine:
    """An appeal against one half-day, with its decision."""

    appeal_id: int
    staff_no: str
    staff_name: str
    day: date
    half: str
    classified_as: str
    reason: str
    filed_at: datetime
    status: str
    ruling: str | None
    ruled_by: str | None
    decided_at: datetime | None


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def file_attendance_appeal(session: Session, actor: Actor, day: date, half: HalfDay, reason: str, *,
                           now: datetime | None = None) -> AttendanceAppealRow:
    """A staff member contests one of their own classified half-days, once.

    Raises:
        AccessDenied: not a staff member.
        NotFound: no stored half-day of the actor's on that day and half.
        ValueError: no reason, a half-day that does not count against them, or one appealed already.
    """
    require(actor, {UserRole.STAFF}, "file attendance appeals")
    sid = staff_scope(actor, None)
    stored = session.scalar(select(HalfDayRow).where(HalfDayRow.staff_id == sid, HalfDayRow.day == day, HalfDayRow.half == half))
    if stored is None:
        raise NotFound(f"no classified half-day {day} {half.value} of {actor.staff_no}")
    reason = reason.strip()
    if not reason:
        raise ValueError("申诉须说明理由")
    if stored.status not in APPEALABLE:
        raise ValueError("该时段的考勤不计为违规，无需申诉")
    if session.scalar(select(AttendanceAppealRow.id).where(AttendanceAppealRow.staff_id == sid, AttendanceAppealRow.day == day,
                                                           AttendanceAppealRow.half == half)) is not None:
        raise ValueError("该时段已申诉过；裁定为最终结果")
    row = AttendanceAppealRow(staff_id=sid, day=day, half=half, classified_as=stored.status, reason=reason, filed_at=_now(now),
                              status=AttendanceAppealStatus.PENDING)
    session.add(row)
    session.flush()
    audit(session, actor.username, "attendance_appeal.file", "attendance_appeal", row.id, day=day.isoformat(), half=half.value,
          classified_as=stored.status.value)
    return row


def attendance_appeals(session: Session, actor: Actor, *, pending_only: bool = False,
                       policy: AccessPolicy = DEFAULT_POLICY) -> list[AttendanceAppealLine]:
    """Attendance appeals, newest first: staff their own; managers, admins and inspectors the hall's (reason and ruling redacted)."""
    query = (select(AttendanceAppealRow, Staff.staff_no, Staff.name).join(Staff, Staff.id == AttendanceAppealRow.staff_id)
             .order_by(AttendanceAppealRow.filed_at.desc(), AttendanceAppealRow.id.desc()))
    if actor.role is UserRole.STAFF:
        query = query.where(AttendanceAppealRow.staff_id == staff_scope(actor, None))
    else:
        require(actor, READ_ATTENDANCE_APPEALS, "read attendance appeals")
    if pending_only:
        query = query.where(AttendanceAppealRow.status == AttendanceAppealStatus.PENDING)
    return [
        AttendanceAppealLine(a.id, no, name, a.day, a.half.value, a.classified_as.value, redact(actor, a.reason, policy), a.filed_at,
                             a.status.value, redact(actor, a.ruling, policy), a.ruled_by, a.decided_at)
        for a, no, name in session.execute(query)
    ]


def decide_attendance_appeal(session: Session, actor: Actor, appeal_id: int, *, grant: bool, ruling: str,
                             now: datetime | None = None) -> AttendanceAppealRow:
    """A manager's final decision: grant (the half-day counts as on time) or reject (it stands).

    Raises:
        AccessDenied: not a manager.
        NotFound: no such appeal.
        ValueError: no ruling text, or an appeal decided already.
    """
    require(actor, DECIDE_ATTENDANCE_APPEALS, "decide attendance appeals")
    appeal = session.get(AttendanceAppealRow, int(appeal_id))
    if appeal is None:
        raise NotFound(f"no attendance appeal {appeal_id}")
    if appeal.status is not AttendanceAppealStatus.PENDING:
        raise ValueError("该申诉已裁定；裁定为最终结果")
    ruling = ruling.strip()
    if not ruling:
        raise ValueError("裁定须说明理由")
    appeal.status = AttendanceAppealStatus.GRANTED if grant else AttendanceAppealStatus.REJECTED
    appeal.ruling, appeal.ruled_by, appeal.decided_at = ruling, actor.username, _now(now)
    if grant:
        _correct_stored(session, appeal)
    session.flush()
    audit(session, actor.username, "attendance_appeal.decide", "attendance_appeal", appeal.id, grant=grant, ruling=ruling)
    return appeal


_COUNTED = {  # HalfDayCounts field -> the circular line's column
    "late": "late_count", "late_minutes": "late_minutes", "early": "early_count", "early_minutes": "early_minutes",
    "missing_checks": "missing_checks", "absenteeism_days": "absenteeism_days", "leave_days": "leave_days",
    "checks_due": "checks_due", "checks_on_time": "checks_on_time",
}
_WINDOW_COUNTED = ("late_count", "early_count", "missing_checks", "absenteeism_days", "leave_days", "checks_due", "checks_on_time")


def _correct_stored(session: Session, appeal: AttendanceAppealRow) -> None:
    """The stored half-day becomes on time; its staff line and its windows' lines move by the difference."""
    stored = session.scalar(select(HalfDayRow).where(HalfDayRow.staff_id == appeal.staff_id, HalfDayRow.day == appeal.day,
                                                     HalfDayRow.half == appeal.half))
    if stored is None:
        return  # not stored (any more): the next classification applies the granted appeal
    before = HalfDayCounts.of(stored.status, stored.late_minutes, stored.early_minutes, stored.missing_checks)
    after = HalfDayCounts.of(HalfDayStatus.ON_TIME, 0, 0, 0)
    stored.status, stored.late_minutes, stored.early_minutes, stored.missing_checks = HalfDayStatus.ON_TIME, 0, 0, 0
    stored.absenteeism, stored.leave_type = None, None
    delta = {column: getattr(after, field) - getattr(before, field) for field, column in _COUNTED.items()}
    line = session.scalar(select(StaffMonthRow).where(StaffMonthRow.month_id == stored.month_id, StaffMonthRow.staff_id == appeal.staff_id))
    if line is not None:
        for column, change in delta.items():
            setattr(line, column, getattr(line, column) + change)
    staff_no = session.scalar(select(Staff.staff_no).where(Staff.id == appeal.staff_id))
    for window in session.scalars(select(WindowMonthRow).where(WindowMonthRow.month_id == stored.month_id)):
        if staff_no in (window.staff_nos or []):
            for column in _WINDOW_COUNTED:
                setattr(window, column, getattr(window, column) + delta[column])


__all__ = ["APPEALABLE", "AttendanceAppealLine", "attendance_appeals", "decide_attendance_appeal", "file_attendance_appeal"]
