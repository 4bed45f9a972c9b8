"""One staff member's profile across months: phrasing, ratings and their dimensions, attendance and presence, follow-ups.

Managers (and admins) may open anyone's; a staff member only their own (:func:`scoring.access.policy.staff_scope`).
The months are the rulebook's ``management.trend_months`` up to ``through``; the monthly figures are
:func:`scoring.access.management.management_trend` for the one staff member, so they are the numbers
the trend pages and the circular show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.attendance_db import AttendanceMonthRow, StaffMonthRow
from models.db import Department, Flag, FlagKind, FlagStatus, FollowUp, FollowUpStatus, Rating, Staff, UserRole, Window, staff_window
from models.rulebook import Rulebook
from scoring.access.feedback import unacknowledged_count
from scoring.access.flags import flag_rule
from scoring.access.management import DimensionScore, MonthFigures, dimension_scores, management_trend, month_bounds, months_back, latest_month
from scoring.access.policy import ANALYTICS, DEFAULT_POLICY, FOLLOW_UP_LABELS, AccessPolicy, day_end, day_start, require, staff_scope
from scoring.access.staff import PhraseUse, courtesy_used
from scoring.accounts import Actor


@dataclass(frozen=True)
class RuleCount:
    """How often a forbidden rule was broken (flags not dismissed)."""

    rule_id: str
    times: int


@dataclass(frozen=True)
class AttendanceMonthLine:
    """The staff member's attendance line of one stored month."""

    month: str
    working_days: int
    late_count: int
    late_minutes: int
    early_count: int
    missing_checks: int
    absenteeism_days: float
    leave_days: float
    presence_flags: int
    punctuality_rate: float | None


@dataclass(frozen=True)
class ProfileFollowUp:
    """A 差评 case of the staff member."""

    id: int
    rated_at: object
    level: str
    status: str
    opened_on: date
    due_on: date
    overdue: bool


@dataclass(frozen=True)
class StaffProfile:
    """Everything about one staff member across the months, on one page."""

    staff_id: int
    staff_no: str
    name: str
    department: str
    windows: str
    months_shown: list[str]
    months: list[MonthFigures]
    phrases_used: list[PhraseUse]
    forbidden: list[RuleCount]
    dimensions: list[DimensionScore]  # per month (key = month)
    attendance: list[AttendanceMonthLine]
    follow_ups: list[ProfileFollowUp]
    new_flags: int  # flags new to the staff member (counted when they open their own profile)


def staff_profile(session: Session, actor: Actor, rulebook: Rulebook, *, staff_id: int | None = None, through: str | None = None,
                  today: date | None = None, policy: AccessPolicy = DEFAULT_POLICY) -> StaffProfile:
    """One staff member's profile for the rulebook's trend months up to ``through`` (default: the newest month with data).

    Raises:
        AccessDenied: staff asking for someone else, or an inspector.
        ValueError: no staff member named (management must pick one), or no such staff member.
    """
    sid = staff_scope(actor, staff_id)
    if actor.role is not UserRole.STAFF:
        require(actor, ANALYTICS, "open a staff member's profile")
    if sid is None:
        raise ValueError("name the staff member")
    staff = session.get(Staff, sid)
    if staff is None:
        raise ValueError(f"no staff member {sid}")
    through = through or latest_month(session, actor)
    span = months_back(through, rulebook.management.trend_months)
    start, end = month_bounds(span[0])[0], month_bounds(span[-1])[1]
    department = session.scalar(select(Department.name).where(Department.id == staff.department_id)) if staff.department_id else None
    windows = session.scalars(select(Window.code).join(staff_window, staff_window.c.window_id == Window.id)
                              .where(staff_window.c.staff_id == sid).order_by(Window.code)).all()
    return StaffProfile(
        sid, staff.staff_no, staff.name, department or "", "、".join(windows), span,
        management_trend(session, actor, rulebook, staff_id=sid, through=through),
        courtesy_used(session, actor, staff_id=sid, start=start, end=end),
        _forbidden(session, sid, start, end),
        dimension_scores(session, actor, by="month", start=start, end=end, staff_id=sid, rulebook=rulebook),
        _attendance(session, sid, span),
        _follow_ups(session, sid, start, end, today or date.today()),
        unacknowledged_count(session, actor) if actor.staff_id == sid else 0,
    )


def _forbidden(session: Session, sid: int, start: date, end: date) -> list[RuleCount]:
    rule = flag_rule(Flag.evidence)
    q = (select(rule, func.count(Flag.id)).where(Flag.staff_id == sid, Flag.kind == FlagKind.FORBIDDEN, Flag.status != FlagStatus.DISMISSED,
                                                  Flag.raised_at >= day_start(start), Flag.raised_at < day_end(end))
         .group_by(rule).order_by(func.count(Flag.id).desc()))
    return [RuleCount(str(r), n) for r, n in session.execute(q)]


def _attendance(session: Session, sid: int, span: list[str]) -> list[AttendanceMonthLine]:
    q = (select(AttendanceMonthRow.month, StaffMonthRow).join(AttendanceMonthRow, AttendanceMonthRow.id == StaffMonthRow.month_id)
         .where(StaffMonthRow.staff_id == sid, AttendanceMonthRow.month.in_(span)).order_by(AttendanceMonthRow.month))
    return [
        AttendanceMonthLine(m, r.working_days, r.late_count, r.late_minutes, r.early_count, r.missing_checks, r.absenteeism_days, r.leave_days,
                            r.presence_flags, round(r.checks_on_time / r.checks_due, 4) if r.checks_due else None)
        for m, r in session.execute(q)
    ]


def _follow_ups(session: Session, sid: int, start: date, end: date, today: date) -> list[ProfileFollowUp]:
    q = (select(FollowUp.id, Rating.rated_at, Rating.level, FollowUp.status, FollowUp.opened_on, FollowUp.due_on)
         .join(Rating, Rating.id == FollowUp.rating_id)
         .where(FollowUp.staff_id == sid, Rating.rated_at >= day_start(start), Rating.rated_at < day_end(end))
         .order_by(Rating.rated_at.desc()).limit(200))
    return [
        ProfileFollowUp(i, at, lvl, FOLLOW_UP_LABELS[st], o, d, st is not FollowUpStatus.CLOSED and d < today)
        for i, at, lvl, st, o, d in session.execute(q)
    ]


__all__ = ["AttendanceMonthLine", "ProfileFollowUp", "RuleCount", "StaffProfile", "staff_profile"]
