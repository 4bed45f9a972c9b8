"""Sampled review (抽检): plans, seeded draws over every interaction, the inspector's assigned reviews.

Only inspectors and managers see plans, draws and reviews; staff never do (a missed forbidden
phrase found by a review reaches the staff member as an ordinary confirmed flag). A draw covers
every served interaction of the period, flagged or not: the interactions the system found
nothing in are where its misses hide. Within each stratum (a staff member or window, split into
flagged / unflagged) the draw is a simple random sample seeded by ``(seed, period, stratum)``
over the interactions sorted by id, so the same plan, seed and data give the same sample; each
drawn interaction keeps its stratum's size N_h and sample size n_h (weight N_h / n_h).
Recording a review of a whole interaction is in :mod:`scoring.access.sample_review`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Flag, Interaction, Staff, UserAccount, UserRole, Window
from models.review_db import SampleDrawRow, SampledInteractionRow, SampleReviewRow, SamplingPlanRow
from scoring.access.policy import NotFound, require
from scoring.accounts import Actor, audit

SAMPLERS = {UserRole.INSPECTOR, UserRole.MANAGER}
UNITS = ("staff", "window")
PERIOD_KINDS = ("week", "month")
# Flags raised by a sample review itself: left out of "flagged", so a later draw of the same data is unchanged.
REVIEW_FLAG_PREFIX = "sample_miss:"


@dataclass(frozen=True)
class PlanSpec:
    """What a sampling plan asks for.

    Attributes:
        per_unit: interactions per staff member (or window) per period.
        flagged_share: with ``stratify_flagged``, the part of ``per_unit`` drawn from interactions
            the system flagged (the rest from unflagged ones; a stratum short of interactions
            gives its remainder to the other).
        window_codes, department_codes: only these windows / departments (empty: all).
    """

    name: str
    per_unit: int
    unit: str = "staff"
    period_kind: str = "month"
    stratify_flagged: bool = True
    flagged_share: float = 0.5
    window_codes: tuple[str, ...] = ()
    department_codes: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class PlanRow:
    id: int
    name: str
    created_by: str
    unit: str
    period_kind: str
    per_unit: int
    stratify_flagged: bool
    flagged_share: float
    window_ids: tuple[int, ...]
    department_ids: tuple[int, ...]
    seed: int


@dataclass(frozen=True)
class DrawRow:
    id: int
    plan_id: int
    period: str
    seed: int
    drawn_at: datetime
    drawn_by: str
    population: int
    drawn: int
    strata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AssignedReview:
    """One drawn interaction as the inspector's work list shows it."""

    sampled_id: int
    draw_id: int
    period: str
    interaction_id: int | None
    started_at: datetime | None
    window: str | None
    staff_no: str | None
    stratum: str
    flagged: bool
    assigned_to: str | None
    reviewed: bool


@dataclass(frozen=True)
class DrawProgress:
    draw_id: int
    plan_name: str
    period: str
    total: int
    reviewed: int


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """``2026-11`` or ``2026-W45`` (ISO week) as [start, end) datetimes.

    Raises:
        ValueError: neither form.
    """
    try:
        if "-W" in period:
            year, week = period.split("-W")
            first = date.fromisocalendar(int(year), int(week), 1)
            last = first + timedelta(days=7)
        else:
            first = datetime.strptime(period, "%Y-%m").date()
            last = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    except ValueError as exc:
        raise ValueError(f"period {period!r}: expected YYYY-MM or YYYY-Www") from exc
    return datetime.combine(first, datetime.min.time()), datetime.combine(last, datetime.min.time())


def period_month(period: str) -> str:
    """The month a period counts in: its own, or the month of an ISO week's Thursday (as ISO does)."""
    start, _ = period_bounds(period)
    if "-W" in period:
        start += timedelta(days=3)
    return start.strftime("%Y-%m")


def _plan_row(p: SamplingPlanRow) -> PlanRow:
    return PlanRow(p.id, p.name, p.created_by, p.unit, p.period_kind, p.per_unit, p.stratify_flagged, p.flagged_share,
                   tuple(p.window_ids or ()), tuple(p.department_ids or ()), p.seed)


def _draw_row(d: SampleDrawRow, drawn: int) -> DrawRow:
    return DrawRow(d.id, d.plan_id, d.period, d.seed, d.drawn_at, d.drawn_by, d.population, drawn, dict(d.strata or {}))


def _ids_by_code(session: Session, model, codes: tuple[str, ...], what: str) -> list[int]:
    ids = []
    for code in codes:
        found = session.scalar(select(model.id).where(model.code == code))
        if found is None:
            raise ValueError(f"unknown {what} {code!r}")
        ids.append(found)
    return ids


def create_plan(session: Session, actor: Actor, spec: PlanSpec) -> PlanRow:
    """Define a sampling plan (audited).

    Raises:
        AccessDenied: not an inspector or manager.
        ValueError: an unknown unit, period kind, window or department, or a bad count or share.
    """
    from models.db import Department

    require(actor, SAMPLERS, "define sampling plans")
    if spec.unit not in UNITS or spec.period_kind not in PERIOD_KINDS:
        raise ValueError(f"unit must be one of {UNITS}, period one of {PERIOD_KINDS}")
    if spec.per_unit < 1 or not 0.0 <= spec.flagged_share <= 1.0:
        raise ValueError("per_unit must be at least 1 and flagged_share within 0..1")
    plan = SamplingPlanRow(
        name=spec.name.strip()[:200] or "抽检计划", created_by=actor.username, unit=spec.unit, period_kind=spec.period_kind,
        per_unit=spec.per_unit, stratify_flagged=spec.stratify_flagged, flagged_share=spec.flagged_share,
        window_ids=_ids_by_code(session, Window, spec.window_codes, "window"),
        department_ids=_ids_by_code(session, Department, spec.department_codes, "department"), seed=int(spec.seed),
    )
    session.add(plan)
    session.flush()
    audit(session, actor.username, "sample_plan_add", "sampling_plan", plan.id, name=plan.name, unit=plan.unit,
          period_kind=plan.period_kind, per_unit=plan.per_unit, seed=plan.seed)
    return _plan_row(plan)


def plans(session: Session, actor: Actor) -> list[PlanRow]:
    """Every active sampling plan (inspectors and managers only)."""
    require(actor, SAMPLERS, "see sampling plans")
    return [_plan_row(p) for p in session.scalars(select(SamplingPlanRow).where(SamplingPlanRow.active).order_by(SamplingPlanRow.id))]


def _population(session: Session, plan: SamplingPlanRow, start: datetime, end: datetime) -> list[tuple[int, str, bool]]:
    """(interaction id, unit key, flagged) of every served interaction the plan covers, by id."""
    query = select(Interaction.id, Interaction.staff_id, Interaction.window_id).where(
        Interaction.started_at >= start, Interaction.started_at < end, Interaction.served.is_(True))
    if plan.window_ids:
        query = query.where(Interaction.window_id.in_(plan.window_ids))
    if plan.department_ids:
        query = query.join(Window, Window.id == Interaction.window_id).where(Window.department_id.in_(plan.department_ids))
    rows = session.execute(query.order_by(Interaction.id)).all()
    flagged_ids = set(session.scalars(
        select(Flag.interaction_id).where(Flag.interaction_id.in_(select(query.subquery().c.id)),
                                          Flag.dedupe_key.not_like(REVIEW_FLAG_PREFIX + "%"))))
    out = []
    for iid, staff_id, window_id in rows:
        unit_id = staff_id if plan.unit == "staff" else window_id
        out.append((iid, f"{plan.unit}:{unit_id if unit_id is not None else '-'}", iid in flagged_ids))
    return out


def _allocate(plan: SamplingPlanRow, flagged: int, unflagged: int) -> tuple[int, int]:
    """How many to draw from a unit's flagged and unflagged interactions."""
    want_flagged = round(plan.per_unit * plan.flagged_share)
    n_flagged = min(flagged, want_flagged)
    n_unflagged = min(unflagged, plan.per_unit - n_flagged)
    n_flagged = min(flagged, plan.per_unit - n_unflagged)  # unflagged short: the rest from flagged
    return n_flagged, n_unflagged


def draw_strata(plan: SamplingPlanRow, population: list[tuple[int, str, bool]], period: str, seed: int) -> dict[str, tuple[int, list[int]]]:
    """The seeded draw: {stratum: (N_h, drawn interaction ids)}; pure, so it can be re-run to check a draw."""
    by_unit: dict[str, dict[bool, list[int]]] = defaultdict(lambda: {True: [], False: []})
    for iid, unit, flagged in population:
        by_unit[unit][flagged if plan.stratify_flagged else False].append(iid)
    out: dict[str, tuple[int, list[int]]] = {}
    for unit in sorted(by_unit):
        groups = by_unit[unit]
        if plan.stratify_flagged:
            n_f, n_u = _allocate(plan, len(groups[True]), len(groups[False]))
            wanted = {f"{unit}|flagged": (groups[True], n_f), f"{unit}|unflagged": (groups[False], n_u)}
        else:
            wanted = {f"{unit}|all": (groups[False], min(plan.per_unit, len(groups[False])))}
        for stratum, (ids, n) in wanted.items():
            if not ids:
                continue
            rng = random.Random(f"{seed}|{period}|{stratum}")  # str seeds hash the same in every process
            out[stratum] = (len(ids), sorted(rng.sample(sorted(ids), n)))
    return out


def _user_ids(session: Session, usernames: list[str]) -> list[int]:
    ids = []
    for name in usernames:
        user = session.scalar(select(UserAccount).where(UserAccount.username == name))
        if user is None or user.role is not UserRole.INSPECTOR:
            raise ValueError(f"{name!r} is not an inspector's account")
        ids.append(user.id)
    return ids


def draw_sample(session: Session, actor: Actor, plan_id: int, period: str, *, seed: int | None = None,
                assign_to: list[str] | None = None) -> DrawRow:
    """Draw a plan's sample for one period (audited); reviews are assigned round-robin.

    Args:
        seed: the draw's seed; the plan's by default.
        assign_to: inspectors' user names; by default the acting inspector (a manager's draw is
            unassigned until then).

    Raises:
        AccessDenied: not an inspector or manager.
        NotFound: no such plan.
        ValueError: a bad period, a period of the wrong kind, a plan already drawn for it.
    """
    require(actor, SAMPLERS, "draw samples")
    plan = session.get(SamplingPlanRow, plan_id)
    if plan is None or not plan.active:
        raise NotFound(f"no sampling plan {plan_id}")
    if ("-W" in period) != (plan.period_kind == "week"):
        raise ValueError(f"plan {plan_id} samples per {plan.period_kind}; period {period!r} is not one")
    start, end = period_bounds(period)
    if session.scalar(select(SampleDrawRow.id).where(SampleDrawRow.plan_id == plan_id, SampleDrawRow.period == period)):
        raise ValueError(f"plan {plan_id} was already drawn for {period}")
    seed = plan.seed if seed is None else int(seed)
    population = _population(session, plan, start, end)
    flagged = {iid for iid, _, f in population if f}
    strata = draw_strata(plan, population, period, seed)
    assignees = _user_ids(session, assign_to) if assign_to else ([actor.user_id] if actor.role is UserRole.INSPECTOR else [None])
    draw = SampleDrawRow(plan_id=plan.id, period=period, seed=seed, drawn_at=datetime.now().replace(microsecond=0), drawn_by=actor.username,
                         population=len(population), strata={k: {"N": n_h, "n": len(ids)} for k, (n_h, ids) in strata.items()})
    session.add(draw)
    session.flush()
    k = 0
    for stratum, (n_h, ids) in strata.items():
        for iid in ids:
            session.add(SampledInteractionRow(draw_id=draw.id, interaction_id=iid, stratum=stratum, flagged=iid in flagged, stratum_size=n_h,
                                              stratum_drawn=len(ids), inclusion_prob=len(ids) / n_h, assigned_to=assignees[k % len(assignees)]))
            k += 1
    session.flush()
    audit(session, actor.username, "sample_draw", "sample_draw", draw.id, plan=plan.id, period=period, seed=seed,
          population=len(population), drawn=k)
    return _draw_row(draw, k)


def check_draw(session: Session, actor: Actor, draw_id: int) -> bool:
    """Draw again from the recorded plan, period and seed on today's data: True when the sample is the same.

    Flags raised by the reviews themselves do not count as "flagged", so reviewing a sample does
    not change its redraw; new or rescored interactions of the period do.

    Raises:
        AccessDenied: not an inspector or manager.
        NotFound: no such draw.
    """
    require(actor, SAMPLERS, "check sample draws")
    draw = session.get(SampleDrawRow, draw_id)
    if draw is None:
        raise NotFound(f"no sample draw {draw_id}")
    start, end = period_bounds(draw.period)
    again = draw_strata(draw.plan, _population(session, draw.plan, start, end), draw.period, draw.seed)
    recorded: dict[str, list[int]] = defaultdict(list)
    for item in draw.items:
        recorded[item.stratum].append(item.interaction_id)
    return {k: ids for k, (_, ids) in again.items()} == {k: sorted(v) for k, v in recorded.items()}


def draws(session: Session, actor: Actor, *, plan_id: int | None = None) -> list[DrawRow]:
    """Draws, newest first (inspectors and managers only)."""
    require(actor, SAMPLERS, "see sample draws")
    query = select(SampleDrawRow).order_by(SampleDrawRow.id.desc())
    if plan_id is not None:
        query = query.where(SampleDrawRow.plan_id == plan_id)
    out = []
    for d in session.scalars(query):
        out.append(_draw_row(d, sum(v.get("n", 0) for v in (d.strata or {}).values())))
    return out


def assigned_reviews(session: Session, actor: Actor, *, draw_id: int | None = None, everyone: bool = False) -> list[AssignedReview]:
    """The interactions an inspector is to review (``everyone``: all inspectors'; managers see all)."""
    require(actor, SAMPLERS, "see sampled reviews")
    query = (
        select(SampledInteractionRow, SampleDrawRow.period, Interaction.started_at, Window.code, Staff.staff_no, UserAccount.username, SampleReviewRow.id)
        .join(SampleDrawRow, SampleDrawRow.id == SampledInteractionRow.draw_id)
        .outerjoin(Interaction, Interaction.id == SampledInteractionRow.interaction_id)
        .outerjoin(Window, Window.id == Interaction.window_id)
        .outerjoin(Staff, Staff.id == Interaction.staff_id)
        .outerjoin(UserAccount, UserAccount.id == SampledInteractionRow.assigned_to)
        .outerjoin(SampleReviewRow, SampleReviewRow.sampled_id == SampledInteractionRow.id)
        .order_by(SampledInteractionRow.draw_id, SampledInteractionRow.id)
    )
    if draw_id is not None:
        query = query.where(SampledInteractionRow.draw_id == draw_id)
    if actor.role is UserRole.INSPECTOR and not everyone:
        query = query.where(SampledInteractionRow.assigned_to == actor.user_id)
    return [
        AssignedReview(item.id, item.draw_id, period, item.interaction_id, started, window, staff_no, item.stratum, item.flagged, user, review_id is not None)
        for item, period, started, window, staff_no, user, review_id in session.execute(query)
    ]


def review_progress(session: Session, actor: Actor, *, everyone: bool = False) -> list[DrawProgress]:
    """Per draw: how many of the actor's (or everyone's) assigned interactions are reviewed."""
    names = {d.id: (p.name, d.period) for d, p in session.execute(select(SampleDrawRow, SamplingPlanRow).join(SamplingPlanRow))}
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in assigned_reviews(session, actor, everyone=everyone):
        totals[row.draw_id][0] += 1
        totals[row.draw_id][1] += int(row.reviewed)
    return [DrawProgress(d, names[d][0], names[d][1], t, r) for d, (t, r) in sorted(totals.items())]
