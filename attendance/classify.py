"""Classify a month's attendance and store it, for the dashboard and the circular to read.

:func:`classify_and_store` runs :func:`attendance.store.compute_month` (the schedule rules of
:mod:`attendance.schedule`, the circular of :mod:`attendance.report`) and writes the result to the
tables of :mod:`models.attendance_db`: the working half-days, the circular's staff and window
lines and the coverage and presence flags. Classifying a month again replaces what was stored
for it, so the daily run, a leave import and a manual ``windowqa attendance classify`` may all
run it as often as they like.

Only days that have happened are classified (``through``): a day still to come is not a 旷工.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from attendance.report import month_bounds
from attendance.store import MonthResult, compute_month
from models.attendance import HalfDayStatus, LeaveRecord
from models.attendance_db import (
    AttendanceMonthRow,
    CoverageFlagRow,
    HalfDayRow,
    PresenceFlagRow,
    StaffMonthRow,
    WindowMonthRow,
    leave_decided_after,
)
from models.db import Staff
from models.rulebook import Rulebook
from models.workdays import WorkCalendar

_CHILDREN = (HalfDayRow, StaffMonthRow, WindowMonthRow, CoverageFlagRow, PresenceFlagRow)


class MonthNotStartedError(ValueError):
    """The month to classify begins after the last day that has happened."""


def classify_and_store(
    session: Session, month: str, rulebook: Rulebook, calendar: WorkCalendar, *, through: date,
    calendar_path: str | Path | None = None, presence_options=None,
) -> MonthResult:
    """Classify ``month`` up to ``through`` and store it in place of any earlier classification.

    Args:
        session: an open session; the caller commits.
        month: ``YYYY-MM``.
        rulebook: times, grace, leave types.
        calendar: working days (the settings' ``calendar_path`` applied).
        through: the last day that has happened (today, or a demo's last simulated day); days
            after it are left out, and it is clipped to the month.
        calendar_path: the site calendar file the calendar came from, recorded with the month.
        presence_options: :class:`attendance.presence.PresenceOptions` (defaults when None).

    Returns:
        The classified month as :func:`~attendance.store.compute_month` returns it.

    Raises:
        ValueError: not a ``YYYY-MM`` month.
        MonthNotStartedError: the month begins after ``through``.
    """
    first, last = month_bounds(month)
    if through < first:
        raise MonthNotStartedError(f"{month} begins after {through}: nothing has happened yet to classify")
    through = min(through, last)
    result = compute_month(session, month, rulebook, calendar, as_of=through, presence_options=presence_options)
    store_month(session, result, through, rulebook_version=rulebook.version,
                calendar_path="" if calendar_path is None else str(calendar_path))
    return result


def store_month(session: Session, result: MonthResult, through: date, *, rulebook_version: str = "",
                calendar_path: str = "") -> AttendanceMonthRow:
    """Replace the stored classification of ``result.month`` with ``result``."""
    old = session.scalar(select(AttendanceMonthRow).where(AttendanceMonthRow.month == result.month))
    if old is not None:
        # explicit deletes: the ON DELETE CASCADE needs SQLite's foreign_keys pragma, which a
        # caller's own engine may not set
        for table in _CHILDREN:
            session.execute(delete(table).where(table.month_id == old.id))
        session.delete(old)
        session.flush()
    # local wall-clock time, like every decision it is compared with (the column's default is the database's clock)
    row = AttendanceMonthRow(month=result.month, through=through, rulebook_version=rulebook_version, calendar=calendar_path,
                             classified_at=datetime.now())
    session.add(row)
    session.flush()
    ids = _staff_ids(session, {r.staff_id for r in result.records} | {s.staff_id for s in result.staff_lines})
    session.add_all(_half_day_rows(row.id, result, ids))
    session.add_all(
        StaffMonthRow(
            month_id=row.id, staff_id=ids[s.staff_id], window_code=s.window_id, working_days=s.working_days,
            late_count=s.late_count, late_minutes=s.late_minutes, early_count=s.early_count,
            early_minutes=s.early_minutes, missing_checks=s.missing_checks, absenteeism_days=s.absenteeism_days,
            leave_days=s.leave_days, leave_by_type=dict(s.leave_by_type), checks_due=s.checks_due,
            checks_on_time=s.checks_on_time, presence_flags=s.presence_flags,
        )
        for s in result.staff_lines if s.staff_id in ids
    )
    session.add_all(
        WindowMonthRow(
            month_id=row.id, window_code=w.window_id, staff_nos=list(w.staff_ids), late_count=w.late_count,
            early_count=w.early_count, missing_checks=w.missing_checks, absenteeism_days=w.absenteeism_days,
            leave_days=w.leave_days, checks_due=w.checks_due, checks_on_time=w.checks_on_time,
            coverage_flags=w.coverage_flags, presence_flags=w.presence_flags,
        )
        for w in result.window_lines
    )
    session.add_all(
        CoverageFlagRow(month_id=row.id, window_code=f.window_id, day=f.day, half=f.half, issue=f.issue,
                        staff_nos=list(f.staff_ids), detail=f.detail)
        for f in result.coverage
    )
    session.add_all(
        PresenceFlagRow(month_id=row.id, window_code=f.window_id, issue=f.issue, start=f.start, end=f.end,
                        staff_nos=list(f.staff_ids))
        for f in result.presence
    )
    session.flush()
    return row


def _staff_ids(session: Session, staff_nos: set[str]) -> dict[str, int]:
    if not staff_nos:
        return {}
    return dict(session.execute(select(Staff.staff_no, Staff.id).where(Staff.staff_no.in_(sorted(staff_nos)))).all())


def _half_day_rows(month_id: int, result: MonthResult, ids: dict[str, int]) -> Iterable[HalfDayRow]:
    for rec in result.records:
        if not rec.day_type.is_working or rec.staff_id not in ids:
            continue  # a day off says nothing; the staff line counts the working days
        for h in rec.halves:
            yield HalfDayRow(
                month_id=month_id, staff_id=ids[rec.staff_id], day=rec.day, half=h.half, day_type=rec.day_type,
                status=h.status, arrived_at=h.arrive.at if h.arrive else None, left_at=h.leave.at if h.leave else None,
                late_minutes=h.late_minutes, early_minutes=h.early_minutes, missing_checks=len(h.missing_checks),
                leave_type=h.leave_type, absenteeism=h.absenteeism,
            )


def classify_months(
    session: Session, months: Iterable[str], rulebook: Rulebook, calendar: WorkCalendar, *, through: date,
    calendar_path: str | Path | None = None,
) -> list[MonthResult]:
    """:func:`classify_and_store` for each month in order, each up to ``through`` (or its own end)."""
    return [classify_and_store(session, m, rulebook, calendar, through=through, calendar_path=calendar_path) for m in months]


def months_to_reclassify(leaves: Iterable[LeaveRecord], today: date) -> list[str]:
    """The months that entered leave records touch up to ``today`` (extensions included)."""
    months: set[str] = set()
    for lv in leaves:
        end = max([lv.end] + [x.new_end for x in lv.extensions])
        # an absence right after a leave is 超假 (overrun): the month after its end may change too
        end = min(end + timedelta(days=1), today)
        if lv.start <= end:
            months.update(months_touched(lv.start, end))
    return sorted(months)


def stale_months(session: Session) -> list[str]:
    """Stored months that a leave decision made since they were classified changes (approved on the dashboard).

    The dashboard cannot classify (it only reads and records decisions); the daily run classifies
    these again along with its own month.
    """
    out = []
    for head in session.scalars(select(AttendanceMonthRow).order_by(AttendanceMonthRow.month)):
        first, last = month_bounds(head.month)
        if leave_decided_after(session, first, last, head.classified_at):
            out.append(head.month)
    return out


def describe(result: MonthResult) -> str:
    """One line on a stored month, for the command line."""
    not_on_time = sum(1 for r in result.records if r.day_type.is_working for h in r.halves if h.status is not HalfDayStatus.ON_TIME)
    last = max((r.day for r in result.records), default=None)
    return (f"{result.month}: classified through {last or '-'}: {len(result.staff_lines)} staff, "
            f"{not_on_time} half-day(s) not on time, {len(result.coverage)} coverage flag(s), "
            f"{len(result.presence)} presence flag(s)")


def months_touched(first: date, last: date) -> list[str]:
    """Every ``YYYY-MM`` from ``first``'s month to ``last``'s, in order."""
    out: list[str] = []
    day = first.replace(day=1)
    while day <= last:
        out.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return out


__all__ = [
    "MonthNotStartedError", "classify_and_store", "classify_months", "describe", "months_to_reclassify", "months_touched",
    "stale_months", "store_month",
]
