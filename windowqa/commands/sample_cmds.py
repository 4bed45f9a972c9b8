"""``windowqa sample plan-add | draw | check | list | show | review`` and ``windowqa eval field``.

Sampled review (抽检) acts as a dashboard account (``--as``: an inspector's or manager's user
name), since plans, draws and reviews are recorded and audited under who made them.
"""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from windowqa.app import app, eval_app
from windowqa.context import DB_OPT, RULEBOOK_OPT, cli_context, fail

sample_app = typer.Typer(help="Sampled review (抽检): plans, seeded draws, reviews of whole interactions.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")

AS_OPT = typer.Option(..., "--as", help="The dashboard account acting (an inspector or manager).")


def _actor(session, username: str):
    from sqlalchemy import select

    from models.db import Staff, UserAccount
    from scoring.accounts import Actor

    account = session.scalar(select(UserAccount).where(UserAccount.username == username, UserAccount.active.is_(True)))
    if account is None:
        fail(f"no active account {username!r}")
    staff_no = session.scalar(select(Staff.staff_no).where(Staff.id == account.staff_id)) if account.staff_id else None
    return Actor(account.id, account.username, account.role, account.staff_id, staff_no)


def _run(ctx: typer.Context, db: Optional[str], username: str, work, rulebook=None):
    """Run ``work(session, actor)`` in one transaction; access and input errors end the command."""
    from scoring.access.policy import AccessDenied, NotFound

    cli = cli_context(ctx, db=db, rulebook=rulebook)
    try:
        with cli.sessions() as s, s.begin():
            return work(s, _actor(s, username), cli)
    except (AccessDenied, NotFound, ValueError) as exc:
        fail(str(exc))


@sample_app.command("plan-add")
def plan_add_cmd(
    ctx: typer.Context,
    username: str = AS_OPT,
    name: str = typer.Option(..., "--name", help="The plan's name."),
    per_unit: int = typer.Option(..., "--per-unit", help="Interactions per staff member (or window) per period."),
    unit: str = typer.Option("staff", "--unit", help="staff or window."),
    period: str = typer.Option("month", "--period", help="week or month."),
    flagged_share: float = typer.Option(0.5, "--flagged-share", help="Part of each unit's sample drawn from flagged interactions."),
    stratify: bool = typer.Option(True, "--stratify/--no-stratify", help="Strata flagged / unflagged."),
    windows: List[str] = typer.Option([], "--window", help="Only this window (repeatable)."),
    departments: List[str] = typer.Option([], "--department", help="Only this department code (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="The draws' seed."),
    db: Optional[str] = DB_OPT,
) -> None:
    """Define a sampling plan."""
    from scoring.access.sampling import PlanSpec, create_plan

    spec = PlanSpec(name, per_unit, unit, period, stratify, flagged_share, tuple(windows), tuple(departments), seed)
    plan = _run(ctx, db, username, lambda s, actor, _: create_plan(s, actor, spec))
    typer.echo(f"plan {plan.id}: {plan.name} ({plan.per_unit} per {plan.unit} per {plan.period_kind}, seed {plan.seed})")


@sample_app.command("draw")
def draw_cmd(
    ctx: typer.Context,
    username: str = AS_OPT,
    plan_id: int = typer.Option(..., "--plan", help="The plan's id."),
    period: str = typer.Option(..., "--period", help="YYYY-MM or YYYY-Www."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The draw's seed (the plan's by default)."),
    assign: List[str] = typer.Option([], "--assign", help="An inspector to review (repeatable; round-robin)."),
    db: Optional[str] = DB_OPT,
) -> None:
    """Draw a plan's sample for one period, over every interaction of the period."""
    from scoring.access.sampling import draw_sample

    draw = _run(ctx, db, username, lambda s, actor, _: draw_sample(s, actor, plan_id, period, seed=seed, assign_to=list(assign) or None))
    typer.echo(f"draw {draw.id}: plan {draw.plan_id} {draw.period}, seed {draw.seed}: {draw.drawn} of {draw.population} interactions")
    for stratum, sizes in sorted(draw.strata.items()):
        typer.echo(f"  {stratum:40s} {sizes['n']:4d} of {sizes['N']}")


@sample_app.command("check")
def check_cmd(ctx: typer.Context, draw_id: int = typer.Option(..., "--draw", help="The draw's id."),
              username: str = AS_OPT, db: Optional[str] = DB_OPT) -> None:
    """Draw again from the recorded plan, period and seed: exit 1 when today's data give another sample."""
    from scoring.access.sampling import check_draw

    if not _run(ctx, db, username, lambda s, actor, _: check_draw(s, actor, draw_id)):
        typer.echo(f"draw {draw_id}: a redraw gives another sample (the period's interactions changed)")
        raise typer.Exit(1)
    typer.echo(f"draw {draw_id}: the same sample again")


@sample_app.command("list")
def list_cmd(
    ctx: typer.Context,
    username: str = AS_OPT,
    everyone: bool = typer.Option(False, "--all", help="Every inspector's assigned reviews, not only the acting one's."),
    as_json: bool = typer.Option(False, "--json"),
    db: Optional[str] = DB_OPT,
) -> None:
    """Plans, draws, and the assigned reviews with their progress."""
    from dataclasses import asdict

    from scoring.access.sampling import assigned_reviews, draws, plans, review_progress

    def work(s, actor, _):
        return plans(s, actor), draws(s, actor), review_progress(s, actor, everyone=everyone), assigned_reviews(s, actor, everyone=everyone)

    all_plans, all_draws, progress, items = _run(ctx, db, username, work)
    if as_json:
        out = {"plans": [asdict(p) for p in all_plans], "draws": [asdict(d) for d in all_draws],
               "progress": [asdict(p) for p in progress], "assigned": [asdict(i) for i in items]}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return
    for p in all_plans:
        typer.echo(f"plan {p.id}: {p.name}  {p.per_unit}/{p.unit}/{p.period_kind}  seed {p.seed}  by {p.created_by}")
    for d in progress:
        typer.echo(f"draw {d.draw_id} ({d.plan_name} {d.period}): reviewed {d.reviewed} of {d.total}")
    for i in items:
        typer.echo(f"  [{'x' if i.reviewed else ' '}] item {i.sampled_id}  interaction {i.interaction_id}  {i.started_at}  "
                   f"{i.window or '-'}  {i.staff_no or '-'}  {'flagged' if i.flagged else 'unflagged'}")


@sample_app.command("show")
def show_cmd(
    ctx: typer.Context,
    item: int = typer.Argument(..., help="The sampled item's id (sample list)."),
    username: str = AS_OPT,
    ids: bool = typer.Option(False, "--ids", help="Print rule ids (for --missed / --really-missing) instead of the rulebook's names."),
    as_json: bool = typer.Option(False, "--json", help="The transcript and hits as JSON (rule ids and names)."),
    db: Optional[str] = DB_OPT,
    rulebook: Optional[str] = RULEBOOK_OPT,
) -> None:
    """A sampled interaction's transcript, line by line, and its system hits (by the rulebook's names)."""
    from dataclasses import asdict

    from scoring.access.policy import AccessPolicy
    from scoring.access.sample_review import sampled_interaction

    masked = AccessPolicy(pii_roles=frozenset())  # citizens' numbers stay masked on a terminal
    view, book = _run(ctx, db, username, lambda s, actor, cli: (sampled_interaction(s, actor, item, policy=masked), cli.rulebook), rulebook)

    def name(rule_id: str) -> str:  # as the hall knows the rule: its section and wording
        rule = book.by_id.get(rule_id)
        return f"{rule.section} {rule.canonical}" if rule is not None else rule_id

    if as_json:
        out = asdict(view)
        for hit in out["hits"]:
            hit["rule_name"] = name(hit["rule_id"])
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for line in view.lines:
        typer.echo(f"{line.seq:4d} {line.start_s:8.1f}s {line.role:8s} {line.text}")
    for hit in view.hits:
        typer.echo(f"hit {hit.hit_id}: {hit.rule_id if ids else name(hit.rule_id)} at line {hit.utterance_seq}")


def _miss(text: str, kind: str):
    """``RULE@LINE`` or ``RULE@START-END`` (seconds) or, for ``missing``, just ``RULE``."""
    from scoring.access.sample_review import MissSpec

    rule, _, where = text.partition("@")
    if not where:
        return MissSpec(rule, kind)
    if "-" in where:
        start, end = where.split("-", 1)
        return MissSpec(rule, kind, start_s=float(start), end_s=float(end))
    return MissSpec(rule, kind, utterance_seq=int(where))


@sample_app.command("review")
def review_cmd(
    ctx: typer.Context,
    item: int = typer.Argument(..., help="The sampled item's id (sample list)."),
    username: str = AS_OPT,
    wrong: List[int] = typer.Option([], "--wrong", help="A system hit (id from sample show) that is wrong; the others are correct."),
    said: List[str] = typer.Option([], "--missed", help="A phrase said but missed: RULE@LINE or RULE@START-END (repeatable)."),
    missing: List[str] = typer.Option([], "--really-missing", help="A required phrase really missing: RULE (repeatable)."),
    comment: str = typer.Option("", "--comment"),
    db: Optional[str] = DB_OPT,
    rulebook: Optional[str] = RULEBOOK_OPT,
) -> None:
    """Record the review of a whole sampled interaction (audited); a missed forbidden phrase becomes a confirmed flag."""
    from scoring.access.sample_review import record_review, sampled_interaction

    try:
        misses = [_miss(m, "said") for m in said] + [_miss(m, "missing") for m in missing]
    except ValueError as exc:
        fail(f"--missed: {exc}")

    def work(s, actor, cli):
        hits = sampled_interaction(s, actor, item).hits
        unknown = set(wrong) - {h.hit_id for h in hits}
        if unknown:
            raise ValueError(f"--wrong {sorted(unknown)}: not hits of this interaction")
        marks = {h.hit_id: h.hit_id not in set(wrong) for h in hits}
        return record_review(s, actor, item, marks, misses, cli.rulebook, comment=comment)

    result = _run(ctx, db, username, work, rulebook)
    typer.echo(f"review {result.review_id}: {result.correct} correct, {result.wrong} wrong, {result.misses} missed; flags raised: {list(result.flag_ids)}")


@eval_app.command("field")
def eval_field_cmd(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    username: str = AS_OPT,
    plan_id: Optional[int] = typer.Option(None, "--plan", help="Only this plan's draws."),
    as_json: bool = typer.Option(False, "--json"),
    db: Optional[str] = DB_OPT,
) -> None:
    """Field precision and recall per rule family and per rule, from the month's sampled reviews."""
    from scoring.access.field import field_estimates

    report = _run(ctx, db, username, lambda s, actor, _: field_estimates(s, actor, month, plan_id=plan_id))
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{report.month}: {report.reviewed} of {report.drawn} sampled interactions reviewed")
    for fig in [*report.families, *report.rules]:
        typer.echo(f"  {fig.label:32s} precision {fig.precision.label():28s} recall {fig.recall.label()}")
