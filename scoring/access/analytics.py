"""Analytics for management: satisfaction, 差评 follow-ups, courtesy compliance and how they relate."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Sequence

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from models.db import Department, Flag, FlagKind, FlagStatus, FollowUp, FollowUpStatus, Interaction, Rating, Staff, UserRole, Window
from models.rulebook import Rulebook
from scoring.access.flags import flag_rule
from scoring.access.policy import (
    ANALYTICS,
    DEFAULT_POLICY,
    FLAG_KIND_LABELS,
    FOLLOW_UP_LABELS,
    AccessPolicy,
    bucket_expr,
    day_end,
    day_start,
    redact,
    require,
)
from scoring.accounts import Actor, audit
from scoring.departments import department_key, join_window_department
from scoring.effective import effective_score, score_adjustments


@dataclass(frozen=True)
class SatisfactionRow:
    """Ratings of one group (window, department, staff member or month); ``rank`` 1 = best (not for months)."""

    key: str
    name: str
    ratings: int
    good: int
    poor: int
    good_rate: float | None
    poor_rate: float | None
    rank: int | None = None


@dataclass(frozen=True)
class TrendPoint:
    """One group's good and poor rates in one month."""

    month: str
    key: str
    ratings: int
    good_rate: float
    poor_rate: float


@dataclass(frozen=True)
class FollowUpCase:
    """A 差评 follow-up case (comment redacted)."""

    id: int
    status: str
    opened_on: date
    due_on: date
    overdue: bool
    level: str
    comment: str | None
    window: str
    staff_no: str | None
    staff_name: str | None


@dataclass(frozen=True)
class ComplianceRow:
    """Courtesy rates and forbidden phrases (flags not dismissed) of one window, department or staff member."""

    key: str
    name: str
    interactions: int
    greeting_rate: float
    farewell_rate: float
    both_rate: float
    forbidden: int
    forbidden_per_100: float


@dataclass(frozen=True)
class BrokenRule:
    """A rule and how often it was broken."""

    rule_id: str
    wording: str
    times: int


@dataclass(frozen=True)
class CourtesyOutcome:
    """Ratings of the interactions with one greeting/farewell combination."""

    courtesy: str
    greeting: bool
    farewell: bool
    ratings: int
    good_rate: float
    poor_rate: float
    mean_rank: float


@dataclass(frozen=True)
class StaffOutcome:
    """One staff member's rated interactions: good rate, courtesy rate and mean effective score."""

    staff_no: str
    name: str
    ratings: int
    good_rate: float
    courtesy_rate: float
    avg_score: float


@dataclass(frozen=True)
class CourtesyRelation:
    """How courtesy relates to ratings, by greeting/farewell combination and per staff member."""

    by_courtesy: list[CourtesyOutcome]
    by_staff: list[StaffOutcome]


def _group_columns(by: str):
    if by == "staff":
        return Staff.id, Staff.staff_no, Staff.name
    if by == "window":
        return Window.id, Window.code, Window.name
    if by == "department":
        return Department.id, Department.code, Department.name
    raise ValueError(f"group by staff, window, department or month, not {by!r}")


def _named(by: str, code, name) -> tuple[str, str]:
    """A grouped row's (key, name): a window without a department is 未分部门."""
    return department_key(code, name) if by == "department" else (str(code), str(name))


def satisfaction(session: Session, actor: Actor, rulebook: Rulebook, *, by: str = "window", start: date | None = None,
                 end: date | None = None) -> list[SatisfactionRow]:
    """Good-rating rate (the rulebook's good levels, 非常满意+满意) and 差评 rate by window, department, staff or month."""
    require(actor, ANALYTICS, "see satisfaction analytics")
    good = case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)
    poor = case((Rating.is_poor, 1), else_=0)
    measures = (func.count(Rating.id), func.sum(good), func.sum(poor))
    if by == "month":
        bucket = bucket_expr(session, Rating.rated_at, "month")
        query = select(bucket, bucket, bucket, *measures).group_by(bucket).order_by(bucket)
    else:
        key, code, name = _group_columns(by)
        query = select(key, code, name, *measures).group_by(key, code, name)
        if by == "staff":
            query = query.join(Staff, Staff.id == Rating.staff_id)
        elif by == "window":
            query = query.join(Window, Window.id == Rating.window_id)
        else:
            query = join_window_department(query, Rating.window_id)  # the window's department (scoring.departments)
    query = query.select_from(Rating)
    if start is not None:
        query = query.where(Rating.rated_at >= day_start(start))
    if end is not None:
        query = query.where(Rating.rated_at < day_end(end))
    out = [
        SatisfactionRow(*_named(by, code, name), n, int(g or 0), int(p or 0), round((g or 0) / n, 4) if n else None,
                        round((p or 0) / n, 4) if n else None)
        for _key, code, name, n, g, p in session.execute(query)
    ]
    if by != "month":
        out.sort(key=lambda r: (-(r.good_rate or 0), r.poor_rate or 0, r.key))
        out = [replace(row, rank=rank) for rank, row in enumerate(out, 1)]
    return out


def satisfaction_trend(session: Session, actor: Actor, rulebook: Rulebook, *, by: str = "window", start: date | None = None,
                       end: date | None = None) -> list[TrendPoint]:
    """Good and poor rates per month and group (long format, for a line chart)."""
    require(actor, ANALYTICS, "see satisfaction analytics")
    key, code, _name = _group_columns(by)
    bucket = bucket_expr(session, Rating.rated_at, "month")
    good = case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)
    query = select(bucket, code, func.count(Rating.id), func.sum(good), func.sum(case((Rating.is_poor, 1), else_=0))).select_from(Rating)
    if by == "staff":
        query = query.join(Staff, Staff.id == Rating.staff_id)
    elif by == "window":
        query = query.join(Window, Window.id == Rating.window_id)
    else:
        query = join_window_department(query, Rating.window_id)
    query = query.group_by(bucket, code).order_by(bucket, code)
    if start is not None:
        query = query.where(Rating.rated_at >= day_start(start))
    if end is not None:
        query = query.where(Rating.rated_at < day_end(end))
    return [TrendPoint(str(m), _named(by, c, "")[0], n, round((g or 0) / n, 4), round((p or 0) / n, 4)) for m, c, n, g, p in session.execute(query)]


def follow_up_cases(session: Session, actor: Actor, *, statuses: Sequence[FollowUpStatus] = (), today: date | None = None,
                    limit: int = 500, policy: AccessPolicy = DEFAULT_POLICY) -> tuple[dict[str, int], list[FollowUpCase]]:
    """差评 follow-up cases by state and deadline: counts per state (overdue counted apart) and the cases, soonest due first."""
    require(actor, ANALYTICS | {UserRole.INSPECTOR}, "see follow-up cases")
    today = today or date.today()
    counts: dict[str, int] = {}
    for st, n in session.execute(select(FollowUp.status, func.count(FollowUp.id)).group_by(FollowUp.status)):
        counts[FOLLOW_UP_LABELS[st]] = n
    counts["逾期"] = session.scalar(
        select(func.count(FollowUp.id)).where(FollowUp.status != FollowUpStatus.CLOSED, FollowUp.due_on < today)
    ) or 0
    query = (
        select(FollowUp.id, FollowUp.status, FollowUp.opened_on, FollowUp.due_on, Rating.level, Rating.comment, Window.code, Staff.staff_no, Staff.name)
        .join(Rating, Rating.id == FollowUp.rating_id)
        .join(Window, Window.id == Rating.window_id)
        .outerjoin(Staff, Staff.id == FollowUp.staff_id)
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    query = query.where(FollowUp.status.in_(statuses)) if statuses else query.where(FollowUp.status != FollowUpStatus.CLOSED)
    rows = [
        FollowUpCase(i, FOLLOW_UP_LABELS[st], o, d, st is not FollowUpStatus.CLOSED and d < today, lvl, redact(actor, c, policy), w, sno, sname)
        for i, st, o, d, lvl, c, w, sno, sname in session.execute(query)
    ]
    return counts, rows


def advance_follow_up(session: Session, actor: Actor, case_id: int, step: FollowUpStatus, note: str) -> None:
    """Record a follow-up step (回访, 整改, 办结) on a 差评 case; managers and inspectors, audited.

    Raises:
        AccessDenied: another role.
        ValueError: no note, no such case, or the case is closed.
    """
    from scoring.store.ratings import advance_follow_up as _advance  # the write itself; access adds the role check and audit

    require(actor, ANALYTICS | {UserRole.INSPECTOR}, "record follow-up steps")
    note = note.strip()
    if not note:
        raise ValueError("a follow-up step needs a note (what was said or done)")
    case = _advance(session, int(case_id), FollowUpStatus(step), note)
    audit(session, actor.username, "follow_up.step", "follow_up", case.id, step=case.status.value, note=note)


def compliance(session: Session, actor: Actor, *, by: str = "window", start: date | None = None, end: date | None = None) -> list[ComplianceRow]:
    """Courtesy and forbidden-phrase rates by window, department (the window's) or staff (forbidden: flags not dismissed, per 100 interactions)."""
    require(actor, ANALYTICS, "see compliance analytics")
    key, code, name = _group_columns(by)
    iq = (
        select(
            key, code, name, func.count(Interaction.id),
            func.sum(case((Interaction.has_greeting, 1), else_=0)),
            func.sum(case((Interaction.has_farewell, 1), else_=0)),
            func.sum(case((and_(Interaction.has_greeting, Interaction.has_farewell), 1), else_=0)),
        )
        .select_from(Interaction)
        .where(Interaction.served.is_(True))
        .group_by(key, code, name)
    )
    fq = select(key, func.count(Flag.id)).select_from(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.status != FlagStatus.DISMISSED).group_by(key)
    if by == "staff":
        iq = iq.join(Staff, Staff.id == Interaction.staff_id)
        fq = fq.join(Staff, Staff.id == Flag.staff_id)
    elif by == "department":  # the window's department (scoring.departments)
        iq = join_window_department(iq, Interaction.window_id)
        fq = join_window_department(fq, Flag.window_id)
    else:
        iq = iq.join(Window, Window.id == Interaction.window_id)
        fq = fq.join(Window, Window.id == Flag.window_id)
    if start is not None:
        iq = iq.where(Interaction.started_at >= day_start(start))
        fq = fq.where(Flag.raised_at >= day_start(start))
    if end is not None:
        iq = iq.where(Interaction.started_at < day_end(end))
        fq = fq.where(Flag.raised_at < day_end(end))
    forbidden = dict(session.execute(fq).all())
    out = []
    for k, c, nm, n, g, fw, both in session.execute(iq):
        fb = forbidden.get(k, 0)
        out.append(ComplianceRow(*_named(by, c, nm), n, round(g / n, 4), round(fw / n, 4), round(both / n, 4), fb, round(100 * fb / n, 2)))
    out.sort(key=lambda r: (-r.both_rate, r.forbidden_per_100, r.key))
    return out


def rules_most_broken(session: Session, actor: Actor, rulebook: Rulebook | None = None, *, start: date | None = None,
                      end: date | None = None) -> list[BrokenRule]:
    """Forbidden rules by how often they were broken (flags not dismissed), with missing and situational courtesy alongside."""
    require(actor, ANALYTICS, "see compliance analytics")
    rule = flag_rule(Flag.evidence)
    query = select(Flag.kind, rule, func.count(Flag.id)).where(
        Flag.kind.in_([FlagKind.FORBIDDEN, FlagKind.MISSING_COURTESY, FlagKind.SITUATIONAL]), Flag.status != FlagStatus.DISMISSED
    ).group_by(Flag.kind, rule)
    if start is not None:
        query = query.where(Flag.raised_at >= day_start(start))
    if end is not None:
        query = query.where(Flag.raised_at < day_end(end))
    out = []
    for kind, rid, n in session.execute(query):
        rid = "courtesy.greet/farewell" if kind is FlagKind.MISSING_COURTESY else rid
        wording = rulebook.by_id[rid].canonical if rulebook is not None and rid in rulebook.by_id else FLAG_KIND_LABELS[kind]
        out.append(BrokenRule(rid, wording, n))
    out.sort(key=lambda r: -r.times)
    return out


def compliance_vs_satisfaction(session: Session, actor: Actor, rulebook: Rulebook, *, start: date | None = None,
                               end: date | None = None) -> CourtesyRelation:
    """How courtesy relates to ratings: rated interactions grouped by greeting/farewell said, and per staff member.

    Returns:
        ``by_courtesy`` has the good and poor rates and mean level rank (0 = best) for each of the
        four greeting/farewell combinations; ``by_staff`` each staff member's rates and mean
        effective score (:mod:`scoring.effective`).
    """
    require(actor, ANALYTICS, "see compliance analytics")
    good = case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)
    conds = [Rating.interaction_id.is_not(None)]
    if start is not None:
        conds.append(Rating.rated_at >= day_start(start))
    if end is not None:
        conds.append(Rating.rated_at < day_end(end))
    q = (
        select(Interaction.has_greeting, Interaction.has_farewell, func.count(Rating.id), func.sum(good),
               func.sum(case((Rating.is_poor, 1), else_=0)), func.avg(Rating.level_rank))
        .join(Interaction, Interaction.id == Rating.interaction_id)
        .where(*conds)
        .group_by(Interaction.has_greeting, Interaction.has_farewell)
    )
    label = {(True, True): "问候+道别", (True, False): "仅问候", (False, True): "仅道别", (False, False): "均未说"}
    by_courtesy = [
        CourtesyOutcome(label[(bool(g), bool(f))], bool(g), bool(f), n, round((gd or 0) / n, 4), round((p or 0) / n, 4), round(float(r), 3))
        for g, f, n, gd, p, r in session.execute(q)
    ]
    by_courtesy.sort(key=lambda r: list(label.values()).index(r.courtesy))
    adj = score_adjustments()
    sq = (
        select(Staff.staff_no, Staff.name, func.count(Rating.id), func.sum(good),
               func.avg(case((and_(Interaction.has_greeting, Interaction.has_farewell), 1.0), else_=0.0)),
               func.avg(effective_score(adj)))
        .select_from(Rating)
        .join(Interaction, Interaction.id == Rating.interaction_id)
        .outerjoin(adj, adj.c.interaction_id == Interaction.id)
        .join(Staff, Staff.id == Interaction.staff_id)
        .where(*conds)
        .group_by(Staff.staff_no, Staff.name)
    )
    by_staff = [
        StaffOutcome(no, nm, n, round((gd or 0) / n, 4), round(float(c), 4), round(float(s), 1)) for no, nm, n, gd, c, s in session.execute(sq)
    ]
    return CourtesyRelation(by_courtesy, by_staff)

