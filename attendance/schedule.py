"""The hall's schedule rules (四): four checks a day, leave, 旷工, substitutes.

Pure functions over :mod:`models.attendance` types; every time comes from the rulebook
(``[attendance]``), every working day from a :class:`~models.workdays.WorkCalendar`.

How check-ins become the four checks: the day splits into a morning and an afternoon at the
midpoint between the morning's end (12:00) and the afternoon's arrival (14:00 summer / 13:30
winter). In each half the earliest check is the arrival and the latest the departure; a single
check counts as the arrival when it is nearer the half's start time, else as the departure
(so forgetting one check shows as a missing check, not as a late arrival at noon).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from models.attendance import (
    AbsenteeismCause,
    CheckIn,
    CheckResult,
    CheckSlot,
    CoverageFlag,
    CoverageIssue,
    DayRecord,
    DayType,
    HalfDay,
    HalfDayRecord,
    HalfDayStatus,
    LeaveRecord,
    LeaveStatus,
    Substitute,
    WindowDuty,
)
from models.rulebook import AttendanceRules, Rulebook, ShiftTimes

from models.workdays import WorkCalendar

logger = logging.getLogger("attendance")


class UnknownLeaveTypeError(ValueError):
    """A leave record whose type the rulebook does not list."""


@dataclass(frozen=True)
class ServiceSession:
    """The due times of one half-day: arrive by ``start``, leave from ``end``."""

    half: HalfDay
    start: datetime
    end: datetime


def sessions_for(day: date, rules: AttendanceRules) -> tuple[ServiceSession, ServiceSession]:
    """The morning and afternoon service sessions of ``day`` (season from the rulebook)."""
    shift: ShiftTimes = rules.shift_for(day)
    at = lambda t: datetime.combine(day, t)  # noqa: E731
    return (
        ServiceSession(HalfDay.MORNING, at(shift.morning_arrive_by), at(shift.morning_leave_from)),
        ServiceSession(HalfDay.AFTERNOON, at(shift.afternoon_arrive_by), at(shift.afternoon_leave_from)),
    )


def noon_split(day: date, rules: AttendanceRules) -> datetime:
    """Where the morning ends and the afternoon begins: the middle of the lunch break."""
    shift = rules.shift_for(day)
    a = datetime.combine(day, shift.morning_leave_from)
    b = datetime.combine(day, shift.afternoon_arrive_by)
    return a + (b - a) / 2


def _minutes(delta: timedelta) -> int:
    # whole minutes started: 08:30:59 is still "8:30", 08:31:00 is one minute late
    return max(0, math.floor(delta.total_seconds() / 60.0))


# ---------------------------------------------------------------------------- leave


@dataclass(frozen=True)
class LeaveCover:
    """What the leave records say about one half-day of one person."""

    leave: LeaveRecord | None  # the record that applies, if any
    approved: bool  # the half-day is covered by approved leave (or an approved extension)
    cause: AbsenteeismCause | None  # the 旷工 case if the person is absent anyway


def _half_index(day: date, half: HalfDay) -> tuple[date, int]:
    return (day, 0 if half is HalfDay.MORNING else 1)


def _within(day: date, half: HalfDay, start: date, start_half: HalfDay, end: date, end_half: HalfDay) -> bool:
    return _half_index(start, start_half) <= _half_index(day, half) <= _half_index(end, end_half)


def leave_cover(staff_leaves: Sequence[LeaveRecord], day: date, half: HalfDay) -> LeaveCover:
    """Decide whether a half-day is on approved leave, and which 旷工 case applies otherwise.

    The four cases of 四.(二).4: no leave filed; leave filed but not approved (pending or
    rejected); past the approved end with the extension not approved (超假); leave marked as
    obtained by deception (applies to the whole leave).
    """
    overrun: LeaveRecord | None = None
    refused: list[LeaveCover] = []  # covering records that do not excuse the absence
    for lv in staff_leaves:
        in_original = _within(day, half, lv.start, lv.start_half, lv.end, lv.end_half)
        approved_end, approved_end_half = lv.end, lv.end_half
        requested_end, requested_end_half = lv.end, lv.end_half
        for ext in lv.extensions:
            if _half_index(ext.new_end, ext.new_end_half) > _half_index(requested_end, requested_end_half):
                requested_end, requested_end_half = ext.new_end, ext.new_end_half
            if ext.status is LeaveStatus.APPROVED and _half_index(ext.new_end, ext.new_end_half) > _half_index(
                approved_end, approved_end_half
            ):
                approved_end, approved_end_half = ext.new_end, ext.new_end_half
        in_approved = _within(day, half, lv.start, lv.start_half, approved_end, approved_end_half)
        if in_original or in_approved:
            if lv.deceptive:
                refused.append(LeaveCover(lv, False, AbsenteeismCause.LEAVE_BY_DECEPTION))
            elif lv.status is not LeaveStatus.APPROVED:
                refused.append(LeaveCover(lv, False, AbsenteeismCause.LEAVE_NOT_APPROVED))
            else:
                return LeaveCover(lv, True, None)  # an approved leave wins over a refused request
            continue
        if lv.status is LeaveStatus.APPROVED and _half_index(day, half) > _half_index(approved_end, approved_end_half):
            # after an approved leave: an overrun if an extension was asked and not granted, or if
            # the absence simply continues from the last leave day (checked by the caller)
            if _within(day, half, approved_end, approved_end_half, requested_end, requested_end_half) and (
                requested_end, requested_end_half) != (approved_end, approved_end_half):
                overrun = lv
    if refused:
        # deception outweighs a mere refusal when both records cover the day
        return min(refused, key=lambda c: c.cause is not AbsenteeismCause.LEAVE_BY_DECEPTION)
    if overrun is not None:
        return LeaveCover(overrun, False, AbsenteeismCause.LEAVE_OVERRUN)
    return LeaveCover(None, False, AbsenteeismCause.NO_LEAVE_FILED)


# ---------------------------------------------------------------------------- days


def _check_leave_type(lv: LeaveRecord, rules: AttendanceRules) -> None:
    if lv.leave_type not in rules.leave_types:
        raise UnknownLeaveTypeError(
            f"leave {lv.record_id or ''} of {lv.staff_id}: unknown type {lv.leave_type!r}; "
            f"the rulebook lists: {', '.join(rules.leave_types)}"
        )


def _split_checks(day: date, checks: Sequence[CheckIn], rules: AttendanceRules) -> tuple[list[CheckIn], list[CheckIn]]:
    return _split_at(noon_split(day, rules), checks)


def _split_at(split: datetime, checks: Sequence[CheckIn]) -> tuple[list[CheckIn], list[CheckIn]]:
    morning = sorted((c for c in checks if c.at < split), key=lambda c: c.at)
    afternoon = sorted((c for c in checks if c.at >= split), key=lambda c: c.at)
    return morning, afternoon


def _assign(session: ServiceSession, checks: list[CheckIn]) -> tuple[datetime | None, datetime | None]:
    if not checks:
        return None, None
    if len(checks) == 1:
        t = checks[0].at
        nearer_start = abs(t - session.start) <= abs(t - session.end)
        return (t, None) if nearer_start else (None, t)
    return checks[0].at, checks[-1].at


@dataclass(frozen=True)
class _DayPlan:
    """What a date means for everyone: its type, its two sessions and the lunch split."""

    day: date
    day_type: DayType
    sessions: tuple[ServiceSession, ServiceSession]
    split: datetime


def _day_plan(day: date, rules: AttendanceRules, calendar: WorkCalendar) -> _DayPlan:
    return _DayPlan(day, calendar.day_type(day), sessions_for(day, rules), noon_split(day, rules))


_NO_LEAVE = LeaveCover(None, False, AbsenteeismCause.NO_LEAVE_FILED)


def classify_day(
    staff_id: str,
    day: date,
    checks: Sequence[CheckIn],
    leaves: Sequence[LeaveRecord],
    rulebook: Rulebook,
    calendar: WorkCalendar,
) -> DayRecord:
    """Classify one staff member's day from their check-ins and leave records.

    Args:
        staff_id: 工号.
        day: the date.
        checks: this person's (collapsed) check-ins of the day; unknown faces are ignored.
        leaves: this person's leave records (any dates).
        rulebook: times, grace and leave types.
        calendar: working days.

    Returns:
        The day's record; both halves ``OFF`` on a non-working day.
    """
    rules = rulebook.attendance
    for lv in leaves:
        _check_leave_type(lv, rules)
    own = [c for c in checks if c.staff_id == staff_id and c.at.date() == day]
    return _classify(staff_id, _day_plan(day, rules, calendar), own, leaves, rulebook)


def _classify(staff_id: str, plan: _DayPlan, own: Sequence[CheckIn], leaves: Sequence[LeaveRecord], rulebook: Rulebook) -> DayRecord:
    """:func:`classify_day` for one person's own checks of the day and leave records of known types."""
    day, day_type, sessions = plan.day, plan.day_type, plan.sessions
    if not day_type.is_working:
        halves = [HalfDayRecord(staff_id, day, s.half, HalfDayStatus.OFF) for s in sessions]
        return DayRecord(staff_id, day, day_type, halves[0], halves[1], rulebook.version)
    grace = timedelta(minutes=rulebook.attendance.grace_minutes)
    parts = _split_at(plan.split, own)
    halves = []
    for session, part in zip(sessions, parts):
        arrive_slot, leave_slot = (
            (CheckSlot.MORNING_ARRIVE, CheckSlot.MORNING_LEAVE)
            if session.half is HalfDay.MORNING
            else (CheckSlot.AFTERNOON_ARRIVE, CheckSlot.AFTERNOON_LEAVE)
        )
        cover = leave_cover(leaves, day, session.half) if leaves else _NO_LEAVE
        if cover.approved:
            halves.append(HalfDayRecord(staff_id, day, session.half, HalfDayStatus.LEAVE, leave_type=cover.leave.leave_type))
            continue
        arrived_at, left_at = _assign(session, part)
        late = _minutes(arrived_at - session.start - grace) if arrived_at else 0
        early = _minutes(session.end - left_at - grace) if left_at else 0
        arrive = CheckResult(arrive_slot, session.start, arrived_at, late)
        leave = CheckResult(leave_slot, session.end, left_at, early)
        if arrived_at is None and left_at is None:
            cause = cover.cause
            halves.append(
                HalfDayRecord(
                    staff_id, day, session.half, HalfDayStatus.ABSENTEEISM, arrive, leave,
                    leave_type=cover.leave.leave_type if cover.leave else None, absenteeism=cause,
                )
            )
            continue
        if arrived_at is None or left_at is None:
            status = HalfDayStatus.MISSING_CHECK
        elif late and early:
            status = HalfDayStatus.LATE_AND_EARLY
        elif late:
            status = HalfDayStatus.LATE
        elif early:
            status = HalfDayStatus.EARLY_LEAVE
        else:
            status = HalfDayStatus.ON_TIME
        halves.append(HalfDayRecord(staff_id, day, session.half, status, arrive, leave, late, early))
    return DayRecord(staff_id, day, day_type, halves[0], halves[1], rulebook.version)


def classify_month(
    staff_ids: Iterable[str],
    first: date,
    last: date,
    checks: Iterable[CheckIn],
    leaves: Iterable[LeaveRecord],
    rulebook: Rulebook,
    calendar: WorkCalendar,
) -> list[DayRecord]:
    """Classify every staff member's days from ``first`` to ``last`` (inclusive).

    A leave record of a type the rulebook does not list is logged and ignored.

    Absence runs are tracked across days so that staying away after an approved leave ends is
    超假 (旷工 case 3) rather than "no leave filed". Unknown-face check-ins are ignored here.
    """
    by_staff_checks: dict[str, dict[date, list[CheckIn]]] = defaultdict(lambda: defaultdict(list))
    for c in checks:
        if c.staff_id is not None:
            by_staff_checks[c.staff_id][c.at.date()].append(c)
    by_staff_leaves: dict[str, list[LeaveRecord]] = defaultdict(list)
    for lv in leaves:
        try:
            _check_leave_type(lv, rulebook.attendance)
        except UnknownLeaveTypeError as exc:
            # one bad record (e.g. a type the site's rulebook dropped) must not stop the month
            logger.warning("%s: ignored", exc)
            continue
        by_staff_leaves[lv.staff_id].append(lv)
    # a date's type, sessions and lunch split are the same for everyone: work them out once
    plans = [_day_plan(first + timedelta(days=i), rulebook.attendance, calendar) for i in range((last - first).days + 1)]
    out: list[DayRecord] = []
    for sid in staff_ids:
        own_days = by_staff_checks.get(sid, {})
        own_leaves = by_staff_leaves.get(sid, [])
        days = [_classify(sid, plan, own_days.get(plan.day, ()), own_leaves, rulebook) for plan in plans]
        out.extend(_mark_overruns(days))
    return out


def _mark_overruns(days: list[DayRecord]) -> list[DayRecord]:
    """Staying away right after an approved leave, with nothing filed, is 超假不归 (case 3)."""
    halves = [(i, h) for i, rec in enumerate(days) if rec.day_type.is_working for h in rec.halves]
    changed: dict[tuple[int, HalfDay], HalfDayRecord] = {}
    previous: HalfDayRecord | None = None
    after_leave: str | None = None  # leave type of the approved leave the current absence run follows
    for i, h in halves:
        if h.status is HalfDayStatus.ABSENTEEISM and h.absenteeism is AbsenteeismCause.LEAVE_OVERRUN:
            after_leave = h.leave_type  # an unapproved extension: staying on past it is still 超假
        elif h.status is HalfDayStatus.ABSENTEEISM and h.absenteeism is AbsenteeismCause.NO_LEAVE_FILED:
            if previous is not None and previous.status is HalfDayStatus.LEAVE:
                after_leave = previous.leave_type
            if after_leave is not None:
                changed[(i, h.half)] = replace(h, absenteeism=AbsenteeismCause.LEAVE_OVERRUN, leave_type=after_leave)
        else:
            after_leave = None
        previous = h
    if not changed:
        return days
    out = []
    for i, rec in enumerate(days):
        m = changed.get((i, HalfDay.MORNING), rec.morning)
        a = changed.get((i, HalfDay.AFTERNOON), rec.afternoon)
        out.append(replace(rec, morning=m, afternoon=a))
    return out


# ---------------------------------------------------------------------------- substitutes


def check_coverage(
    windows: Sequence[WindowDuty],
    day_records: Iterable[DayRecord],
    substitutes: Iterable[Substitute],
) -> list[CoverageFlag]:
    """Flag windows left without staff (替岗制度 四.(三), 三.4) on each working half-day.

    A window is on duty in a half-day when one of its staff, or a substitute serving there,
    checked in that half-day. Flags:

    - ``LEAVE_WITHOUT_SUBSTITUTE``: every staff member of the window is on approved leave and no
      filed substitute covers the window (a one-person window on leave included, 四.(三).1);
    - ``UNCOVERED``: nobody on duty (absences, leave with a substitute who did not come ...);
    - ``SUBSTITUTE_NOT_FILED``: a substitute served without being reported beforehand.

    ``day_records`` must include the substitutes' own records (they check in like everyone).
    """
    records: dict[tuple[str, date, HalfDay], HalfDayRecord] = {}
    days: set[date] = set()
    for rec in day_records:
        if not rec.day_type.is_working:
            continue
        days.add(rec.day)
        for h in rec.halves:
            records[(rec.staff_id, rec.day, h.half)] = h
    subs = list(substitutes)
    flags: list[CoverageFlag] = []
    for day in sorted(days):
        for half in HalfDay:
            for w in windows:
                own = [records.get((sid, day, half)) for sid in w.staff_ids]
                own_known = [h for h in own if h is not None]
                if not own_known:
                    continue  # this window's staff were not classified for the day
                present = [h.staff_id for h in own_known if h.present and h.status is not HalfDayStatus.LEAVE]
                on_leave = [h.staff_id for h in own_known if h.status is HalfDayStatus.LEAVE]
                serving = [s for s in subs if s.window_id == w.window_id and s.covers(day, half)]
                subs_present = [
                    s for s in serving
                    if (r := records.get((s.substitute_staff_id, day, half))) is not None and r.present
                ]
                for s in subs_present:
                    if not s.filed:
                        flags.append(CoverageFlag(w.window_id, day, half, CoverageIssue.SUBSTITUTE_NOT_FILED,
                                                  (s.substitute_staff_id,), "替岗人员未事前报督查考核科备案"))
                all_on_leave = len(on_leave) == len(w.staff_ids)
                if all_on_leave and not subs_present and not any(s.filed for s in serving):
                    flags.append(CoverageFlag(w.window_id, day, half, CoverageIssue.LEAVE_WITHOUT_SUBSTITUTE,
                                              tuple(on_leave), "窗口人员全部请假，未安排备案替岗人员"))
                elif not present and not subs_present:
                    flags.append(CoverageFlag(w.window_id, day, half, CoverageIssue.UNCOVERED,
                                              tuple(w.staff_ids), "服务时间窗口无人在岗"))
    return flags
