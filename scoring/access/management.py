"""Management figures across months: trends with the month-on-month change, 差评 回访率/整改率 against the
target, the terminal's dimension scores, the watch list (约谈) and attendance by department.

Every figure is grouped the same way: by the hall, a department (the window's, :mod:`scoring.departments`,
as on the satisfaction and compliance pages and in the CLI report; attendance by the staff member's), a window,
or a staff member. The rates are rounded as
:mod:`scoring.access.analytics` and the CLI report round them (4 decimals), so the three agree to the digit.
The numbers that are the hall's policy (12 months, the 100 % target, bottom 2 for 2 months running) come
from the rulebook's ``[management]`` section.

The trends, the watch list and the dimensions by month add up (month, window, staff member) cells
(:mod:`scoring.store.month_totals`): a finished month is read from the stored totals when its stamp still
matches its rows, the current month (and a month not stored or stale) is computed live, the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from models.attendance_db import AttendanceMonthRow, StaffMonthRow, WindowMonthRow
from models.db import Department, FollowUp, FollowUpStatus, Rating, Staff, UserRole, Window
from models.rulebook import Rulebook
from scoring.access.lookups import data_range
from scoring.access.policy import ANALYTICS, bucket_expr, require, staff_scope
from scoring.accounts import Actor
from scoring.departments import NO_DEPARTMENT, window_departments
from scoring.store.month_totals import Cell, CellKey, fresh_months, month_range, stored_cells
from scoring.store.month_totals import month_cells as live_cells

GROUPINGS = ("hall", "department", "window", "staff")
HALL_KEY = "全厅"
# a 差评's case counts as called back (回访) from 已回访 on, as rectified (整改) from 已整改 on; a closed case has both
CALLED_BACK = (FollowUpStatus.CALLED_BACK, FollowUpStatus.RECTIFIED, FollowUpStatus.CLOSED)
RECTIFIED = (FollowUpStatus.RECTIFIED, FollowUpStatus.CLOSED)
RATE_DIGITS = 4


@dataclass(frozen=True)
class MonthFigures:
    """One group's figures in one month, with the change from the month before (None: no figure that month)."""

    month: str
    key: str
    name: str
    interactions: int
    greeting_rate: float | None
    farewell_rate: float | None
    both_rate: float | None
    forbidden: int
    forbidden_per_100: float | None
    ratings: int
    good_rate: float | None
    poor_rate: float | None
    poor: int
    callback_rate: float | None
    rectify_rate: float | None
    punctuality_rate: float | None
    good_rate_change: float | None = None
    both_rate_change: float | None = None
    punctuality_change: float | None = None


@dataclass(frozen=True)
class FollowUpRate:
    """回访率 and 整改率 of one group's 差评 (rated in the period) against the rulebook's target."""

    key: str
    name: str
    poor: int
    called_back: int
    rectified: int
    callback_rate: float | None
    rectify_rate: float | None
    target: float
    below_target: bool


@dataclass(frozen=True)
class DimensionScore:
    """The mean of one terminal dimension (态度、效率…) over one group's ratings that carry it."""

    key: str
    name: str
    dimension: str
    ratings: int
    mean: float


@dataclass(frozen=True)
class WatchEntry:
    """A staff member or window among the lowest 好评率 for ``months_running`` months up to ``through``."""

    key: str
    name: str
    months_running: int
    since: str
    through: str
    good_rate: float | None  # in the last month
    detail: str  # each month of the run: rank from the bottom and 好评率


@dataclass(frozen=True)
class DepartmentAttendance:
    """A department's attendance in one month (its staff members' lines added up)."""

    key: str
    name: str
    staff: int
    late_count: int
    early_count: int
    missing_checks: int
    absenteeism_days: float
    leave_days: float
    presence_flags: int
    checks_due: int
    checks_on_time: int
    punctuality_rate: float | None


# ---------------------------------------------------------------------------- months and groups


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of ``YYYY-MM``."""
    first = datetime.strptime(month, "%Y-%m").date()
    return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def months_back(last: str, n: int) -> list[str]:
    """The ``n`` months ending with ``last``, oldest first."""
    first = datetime.strptime(last, "%Y-%m").date()
    out = []
    for _ in range(n):
        out.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    return out[::-1]


def latest_month(session: Session, actor: Actor) -> str:
    """The month of the newest interaction or rating the actor may see (this month without data)."""
    span = data_range(session, actor)
    return (span[1] if span else date.today()).strftime("%Y-%m")


def _rate(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def _groups(session: Session, by: str) -> dict[int | None, tuple[str, str]]:
    """A unit (window id, or staff id when ``by`` is staff) -> the group's (key, name)."""
    if by not in GROUPINGS:
        raise ValueError(f"group by {', '.join(GROUPINGS)}, not {by!r}")
    if by == "staff":
        return {i: (no, name) for i, no, name in session.execute(select(Staff.id, Staff.staff_no, Staff.name))}
    if by == "window":
        return {i: (code, name) for i, code, name in session.execute(select(Window.id, Window.code, Window.name))}
    if by == "hall":
        return _Hall()
    return window_departments(session)  # the window's department, whoever served (scoring.departments)


class _Hall(dict):
    """Every unit is the hall."""

    def get(self, unit, default=None):
        return HALL_KEY, HALL_KEY


def _scope(actor: Actor, staff_id: int | None, what: str) -> int | None:
    sid = staff_scope(actor, staff_id)
    if sid is None:
        require(actor, ANALYTICS, what)
    return sid


def _range(query, column, start: date | None, end: date | None):
    if start is not None:
        query = query.where(column >= datetime.combine(start, datetime.min.time()))
    if end is not None:
        query = query.where(column < datetime.combine(end + timedelta(days=1), datetime.min.time()))
    return query


# ---------------------------------------------------------------------------- trends


def management_trend(session: Session, actor: Actor, rulebook: Rulebook, *, by: str = "hall", through: str | None = None,
                     staff_id: int | None = None, months: int | None = None, ratings_only: bool = False) -> list[MonthFigures]:
    """Satisfaction, compliance, follow-ups and attendance per month and group, with the month-on-month change.

    Args:
        by: hall, department, window or staff.
        through: the last month (``YYYY-MM``; default the newest with data); the trend covers the
            rulebook's ``management.trend_months`` months up to it (``months`` overrides).
        staff_id: one staff member only (a staff actor always gets their own).
        ratings_only: only the ratings' figures (the watch list needs no more; the other queries scan every interaction).

    Raises:
        AccessDenied: the whole hall asked by a role without analytics, or staff asking for someone else.
    """
    sid = _scope(actor, staff_id, "see management trends")
    if sid is not None:
        by = "staff"
    through = through or latest_month(session, actor)
    span = months_back(through, months or rulebook.management.trend_months)
    start, end = month_bounds(span[0])[0], month_bounds(span[-1])[1]
    groups = _groups(session, by)
    acc: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    names: dict[str, str] = {}

    def add(month: str, unit: int | None, **values: Any) -> None:
        key, name = groups.get(unit) or ("", "")
        if by == "staff" and unit is None:
            return  # nobody on duty: no staff member's figure
        names[key] = name
        for field_name, v in values.items():
            acc[(str(month), key)][field_name] += v or 0

    for (month, window, staff), c in month_cells(session, rulebook, span, sid, ratings_only=ratings_only).items():
        unit = staff if by == "staff" else window
        if c.ratings:
            add(month, unit, ratings=c.ratings, good=c.good, poor=c.poor)
        if not ratings_only and (c.interactions or c.forbidden):
            add(month, unit, n=c.interactions, greet=c.greeted, farewell=c.farewelled, both=c.both, forbidden=c.forbidden)
    for month, unit, cb, rf in _follow_ups(session, by, start, end, sid):
        add(month, unit, called_back=cb, rectified=rf)
    if ratings_only:
        return _figures(acc, names, span)
    for month, key, name, due, on_time in _attendance(session, by, span, sid):
        names.setdefault(key, name)
        acc[(month, key)]["due"] += due
        acc[(month, key)]["on_time"] += on_time
    return _figures(acc, names, span)


def _unit(by: str, staff_col, window_col):
    return staff_col if by == "staff" else window_col


def month_cells(session: Session, rulebook: Rulebook, span: list[str], staff_id: int | None = None, *,
                ratings_only: bool = False) -> dict[CellKey, Cell]:
    """The (month, window, staff member) counts of ``span``: stored for a finished month whose stamp still
    matches its rows, computed live for the current month and any month not stored or stale (``ratings_only``:
    live, only the ratings' counts)."""
    current = date.today().strftime("%Y-%m")
    fresh = fresh_months(session, rulebook, [m for m in span if m < current])
    cells = stored_cells(session, sorted(fresh), staff_id=staff_id) if fresh else {}
    run: list[str] = []
    for month in [*span, None]:  # live months in runs of consecutive months: one query per run
        if month is not None and month not in fresh:
            run.append(month)
            continue
        if run:
            cells.update(live_cells(session, rulebook, month_range(run[0])[0], month_range(run[-1])[1], staff_id=staff_id,
                                    ratings_only=ratings_only))
            run = []
    return cells


def _follow_ups(session, by, start, end, sid):
    """(month, unit, 差评 called back, 差评 rectified) by the rating's month: live, the cases change after the month."""
    bucket = bucket_expr(session, Rating.rated_at, "month")
    unit = _unit(by, Rating.staff_id, Rating.window_id)
    q = (select(bucket, unit, func.sum(case((FollowUp.status.in_(CALLED_BACK), 1), else_=0)),
                func.sum(case((FollowUp.status.in_(RECTIFIED), 1), else_=0)))
         .select_from(FollowUp).join(Rating, FollowUp.rating_id == Rating.id).where(Rating.is_poor.is_(True)).group_by(bucket, unit))
    q = _range(q, Rating.rated_at, start, end)
    if sid is not None:
        q = q.where(Rating.staff_id == sid)
    return [(m, u, cb or 0, rf or 0) for m, u, cb, rf in session.execute(q)]


def _attendance(session, by, span, sid) -> Iterable[tuple[str, str, str, int, int]]:
    """(month, key, name, checks due, checks on time) of the stored months in ``span``."""
    if by in ("window", "hall"):
        names = dict(session.execute(select(Window.code, Window.name)).all())
        q = (select(AttendanceMonthRow.month, WindowMonthRow.window_code, WindowMonthRow.checks_due, WindowMonthRow.checks_on_time)
             .join(AttendanceMonthRow, AttendanceMonthRow.id == WindowMonthRow.month_id).where(AttendanceMonthRow.month.in_(span)))
        for month, code, due, on_time in session.execute(q):
            key, name = (HALL_KEY, HALL_KEY) if by == "hall" else (code, names.get(code, ""))
            yield month, key, name, due, on_time
        return
    q = (select(AttendanceMonthRow.month, Staff.staff_no, Staff.name, Department.code, Department.name, StaffMonthRow.checks_due,
                StaffMonthRow.checks_on_time)
         .join(AttendanceMonthRow, AttendanceMonthRow.id == StaffMonthRow.month_id).join(Staff, Staff.id == StaffMonthRow.staff_id)
         .outerjoin(Department, Department.id == Staff.department_id).where(AttendanceMonthRow.month.in_(span)))
    if sid is not None:
        q = q.where(StaffMonthRow.staff_id == sid)
    for month, no, name, dcode, dname, due, on_time in session.execute(q):
        key, label = (no, name) if by == "staff" else ((dcode, dname) if dcode is not None else NO_DEPARTMENT)
        yield month, key, label, due, on_time


def _figures(acc, names: dict[str, str], span: list[str]) -> list[MonthFigures]:
    out: list[MonthFigures] = []
    previous: dict[str, MonthFigures] = {}
    for month in span:
        for key in sorted(k for m, k in acc if m == month):
            a = acc[(month, key)]
            n, r = a["n"], a["ratings"]
            row = MonthFigures(
                month, key, names.get(key, ""), n, _rate(a["greet"], n), _rate(a["farewell"], n), _rate(a["both"], n),
                a["forbidden"], round(100 * a["forbidden"] / n, 2) if n else None, r, _rate(a["good"], r), _rate(a["poor"], r), a["poor"],
                _rate(a["called_back"], a["poor"]), _rate(a["rectified"], a["poor"]), _rate(a["on_time"], a["due"]),
            )
            before = previous.get(key)
            if before is not None and before.month == months_back(month, 2)[0]:
                row = _with_change(row, before)
            previous[key] = row
            out.append(row)
    return out


def _change(now: float | None, before: float | None) -> float | None:
    return round(now - before, RATE_DIGITS) if now is not None and before is not None else None


def _with_change(row: MonthFigures, before: MonthFigures) -> MonthFigures:
    return replace(row, good_rate_change=_change(row.good_rate, before.good_rate), both_rate_change=_change(row.both_rate, before.both_rate),
                   punctuality_change=_change(row.punctuality_rate, before.punctuality_rate))


# ---------------------------------------------------------------------------- follow-ups, dimensions


def follow_up_rates(session: Session, actor: Actor, rulebook: Rulebook, *, by: str = "window", start: date | None = None,
                    end: date | None = None, staff_id: int | None = None) -> list[FollowUpRate]:
    """回访率 and 整改率 of the 差评 rated in [start, end], by hall, department, window or staff, against the target.

    A 差评 without a case (none opened) counts as neither called back nor rectified.
    """
    sid = _scope(actor, staff_id, "see follow-up rates")
    if sid is not None:
        by = "staff"
    groups = _groups(session, by)
    unit = _unit(by, Rating.staff_id, Rating.window_id)
    has_case = FollowUp.id.is_not(None)
    q = (select(unit, func.count(Rating.id), func.sum(case((and_(has_case, FollowUp.status.in_(CALLED_BACK)), 1), else_=0)),
                func.sum(case((and_(has_case, FollowUp.status.in_(RECTIFIED)), 1), else_=0)))
         .select_from(Rating).outerjoin(FollowUp, FollowUp.rating_id == Rating.id).where(Rating.is_poor.is_(True)).group_by(unit))
    q = _range(q, Rating.rated_at, start, end)
    if sid is not None:
        q = q.where(Rating.staff_id == sid)
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    names: dict[str, str] = {}
    for u, n, cb, rf in session.execute(q):
        if by == "staff" and u is None:
            continue
        key, name = groups.get(u) or ("", "")
        names[key] = name
        for i, v in enumerate((n, cb or 0, rf or 0)):
            acc[key][i] += v
    target = rulebook.management.follow_up_target
    out = []
    for key, (n, cb, rf) in sorted(acc.items()):
        cbr, rfr = _rate(cb, n), _rate(rf, n)
        out.append(FollowUpRate(key, names[key], n, cb, rf, cbr, rfr, target, (cbr or 0) < target or (rfr or 0) < target))
    return out


def dimension_scores(session: Session, actor: Actor, *, by: str = "hall", start: date | None = None, end: date | None = None,
                     staff_id: int | None = None, rulebook: Rulebook | None = None) -> list[DimensionScore]:
    """The terminal's dimension scores (态度、效率…, as imported) averaged per group and dimension.

    ``by`` may also be ``month`` (the hall's, or the staff member's, per month); given the ``rulebook`` and
    whole months, those are read from the month cells (stored months where fresh).
    """
    sid = _scope(actor, staff_id, "see dimension scores")
    if sid is not None and by != "month":
        by = "staff"
    if rulebook is not None and by == "month" and start is not None and start.day == 1 and (end is None or end == month_bounds(f"{end:%Y-%m}")[1]):
        return _dimensions_by_month(session, actor, rulebook, start, end, sid)
    groups = _groups(session, "hall" if by == "month" else by)
    unit = _unit(by, Rating.staff_id, Rating.window_id)
    q = select(Rating.rated_at, unit, Rating.dimension_scores).where(Rating.dimension_scores.is_not(None))
    q = _range(q, Rating.rated_at, start, end)
    if sid is not None:
        q = q.where(Rating.staff_id == sid)
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    names: dict[str, str] = {}
    for rated_at, u, dims in session.execute(q):
        if not isinstance(dims, dict) or (by == "staff" and u is None):
            continue  # JSON null, or nobody on duty
        key, name = (rated_at.strftime("%Y-%m"),) * 2 if by == "month" else (groups.get(u) or ("", ""))
        names[key] = name
        for dim, value in dims.items():
            if isinstance(value, (int, float)):
                acc[(key, str(dim))][0] += 1
                acc[(key, str(dim))][1] += float(value)
    return [DimensionScore(k, names[k], d, int(n), round(s / n, 2)) for (k, d), (n, s) in sorted(acc.items())]


def _dimensions_by_month(session: Session, actor: Actor, rulebook: Rulebook, start: date, end: date | None, sid: int | None) -> list[DimensionScore]:
    """Whole months: from the month cells (stored where fresh), as the trend reads them."""
    last = f"{end:%Y-%m}" if end is not None else max(latest_month(session, actor), date.today().strftime("%Y-%m"))
    span = [m for m in months_back(last, 1200) if m >= f"{start:%Y-%m}"]
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for (month, _, _), c in month_cells(session, rulebook, span, sid).items():
        for dim, (n, total) in c.dimensions.items():
            acc[(month, dim)][0] += n
            acc[(month, dim)][1] += total
    return [DimensionScore(k, k, d, int(n), round(s / n, 2)) for (k, d), (n, s) in sorted(acc.items()) if n]


# ---------------------------------------------------------------------------- watch list, departments


def watch_list(session: Session, actor: Actor, rulebook: Rulebook, *, unit: str = "staff", through: str | None = None) -> list[WatchEntry]:
    """Who is among the rulebook's ``watch_bottom_n`` lowest 好评率 for ``watch_months_running`` months up to ``through`` (约谈).

    Each month ranks the groups with at least ``watch_min_ratings`` ratings, lowest 好评率 first (then
    the higher 差评率, then the key); a group not ranked in a month breaks its run, and a month with no more
    ranked groups than ``watch_bottom_n`` names nobody.
    """
    require(actor, ANALYTICS, "see the watch list")
    rules = rulebook.management
    through = through or latest_month(session, actor)
    span = months_back(through, max(rules.trend_months, rules.watch_months_running))
    rows = management_trend(session, actor, rulebook, by=unit, through=through, months=len(span), ratings_only=True)
    bottom: dict[str, dict[str, tuple[int, float | None]]] = defaultdict(dict)  # month -> key -> (rank from the bottom, rate)
    names: dict[str, str] = {}
    for month in span:
        ranked = sorted((r for r in rows if r.month == month and r.ratings >= rules.watch_min_ratings),
                        key=lambda r: (r.good_rate or 0.0, -(r.poor_rate or 0.0), r.key))
        if len(ranked) <= rules.watch_bottom_n:
            continue  # everyone would be in the bottom: a month with too few ranked groups names nobody
        for place, r in enumerate(ranked[: rules.watch_bottom_n], 1):
            bottom[month][r.key] = (place, r.good_rate)
            names[r.key] = r.name
    out = []
    for key in sorted(bottom.get(through, {})):
        run = []
        for month in reversed(span):
            if key not in bottom[month]:
                break
            run.append(month)
        if len(run) < rules.watch_months_running:
            continue
        run.reverse()
        detail = "；".join(f"{m} 倒数第 {bottom[m][key][0]}（好评率 {_pct(bottom[m][key][1])}）" for m in run)
        out.append(WatchEntry(key, names[key], len(run), run[0], run[-1], bottom[through][key][1], detail))
    out.sort(key=lambda e: (-e.months_running, e.good_rate or 0.0, e.key))
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def attendance_by_department(session: Session, actor: Actor, month: str) -> list[DepartmentAttendance]:
    """The stored attendance month added up by the staff members' departments (None when the month is not classified: [])."""
    require(actor, ANALYTICS | {UserRole.INSPECTOR}, "see the hall's attendance")
    q = (select(Department.code, Department.name, func.count(StaffMonthRow.id), func.sum(StaffMonthRow.late_count), func.sum(StaffMonthRow.early_count),
                func.sum(StaffMonthRow.missing_checks), func.sum(StaffMonthRow.absenteeism_days), func.sum(StaffMonthRow.leave_days),
                func.sum(StaffMonthRow.presence_flags), func.sum(StaffMonthRow.checks_due), func.sum(StaffMonthRow.checks_on_time))
         .join(AttendanceMonthRow, AttendanceMonthRow.id == StaffMonthRow.month_id).join(Staff, Staff.id == StaffMonthRow.staff_id)
         .outerjoin(Department, Department.id == Staff.department_id).where(AttendanceMonthRow.month == month)
         .group_by(Department.code, Department.name).order_by(Department.code))
    out = []
    for code, name, n, late, early, missing, absent, leave, presence, due, on_time in session.execute(q):
        key, label = (code, name) if code is not None else NO_DEPARTMENT
        out.append(DepartmentAttendance(key, label, n, int(late or 0), int(early or 0), int(missing or 0), float(absent or 0), float(leave or 0),
                                        int(presence or 0), int(due or 0), int(on_time or 0), _rate(on_time or 0, due or 0)))
    return out


__all__ = [
    "DepartmentAttendance", "DimensionScore", "FollowUpRate", "MonthFigures", "WatchEntry", "attendance_by_department",
    "dimension_scores", "follow_up_rates", "latest_month", "management_trend", "month_bounds", "months_back", "watch_list",
]
