"""Field precision and recall per rule family and per rule, per month, from the sampled reviews.

Precision comes from the reviewed hits (correct / marked); recall from the reviewed sampled
interactions: the hits marked correct over those plus the phrases the reviewers recorded as
said but missed. Each reviewed interaction weighs N_h / r_h in its draw's stratum (r_h: the
stratum's reviewed interactions), so oversampling flagged interactions does not flatter recall
(:mod:`scoring.field_estimates`). A month covers the draws of its periods (a week counts in the
month of its Thursday); give ``plan_id`` when several plans sample the same interactions.
Inspectors and managers only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import UserRole
from models.domain import RuleFamily
from models.review_db import SampleDrawRow, SampledInteractionRow, SampleReviewRow
from scoring.access.policy import require
from scoring.access.sampling import period_month
from scoring.accounts import Actor
from scoring.field_estimates import RatioEstimate, UnitCounts, ratio_estimate

FIELD_READERS = {UserRole.INSPECTOR, UserRole.MANAGER, UserRole.ADMIN}
FAMILY_LABELS = {RuleFamily.FORBIDDEN.value: "服务禁语", RuleFamily.COURTESY.value: "文明用语", RuleFamily.PHONE.value: "电话用语"}


@dataclass(frozen=True)
class FieldFigure:
    """Field precision and recall of one rule family (``rule_id`` None) or one rule."""

    family: str
    rule_id: str | None
    label: str
    precision: RatioEstimate
    recall: RatioEstimate


@dataclass(frozen=True)
class FieldReport:
    month: str
    reviewed: int  # reviewed sampled interactions
    drawn: int  # sampled interactions of the month's draws
    families: list[FieldFigure]
    rules: list[FieldFigure]

    def to_json(self) -> dict:
        return asdict(self)


def _reviewed_units(session: Session, month: str, plan_id: int | None) -> tuple[int, list[tuple[str, int, SampleReviewRow]]]:
    query = select(SampleDrawRow)
    if plan_id is not None:
        query = query.where(SampleDrawRow.plan_id == plan_id)
    draw_ids = [d.id for d in session.scalars(query) if period_month(d.period) == month]
    if not draw_ids:
        return 0, []
    items = list(session.scalars(select(SampledInteractionRow).where(SampledInteractionRow.draw_id.in_(draw_ids))))
    units = [(f"{i.draw_id}|{i.stratum}", i.stratum_size, i.review) for i in items if i.review is not None]
    return len(items), units


def _counts(review: SampleReviewRow, key) -> tuple[int, int, int]:
    """(correct hits, marked hits, missed-but-said) of the review for the group ``key`` picks."""
    correct = sum(1 for m in review.marks if key(m.family, m.rule_id) and m.correct)
    marked = sum(1 for m in review.marks if key(m.family, m.rule_id))
    missed = sum(1 for m in review.misses if m.kind == "said" and key(m.family, m.rule_id))
    return correct, marked, missed


def _figure(units, family: str, rule_id: str | None, label: str, rule_ids: frozenset[str] | None = None) -> FieldFigure:
    def key(f: str, r: str) -> bool:
        # a family counts its own rules only: a citizen's abuse is stored as a forbidden-family hit
        # but is no staff phrase, so it must not move the staff's forbidden precision
        if f != family or not r.startswith(family + "."):
            return False
        return (rule_id is None or r == rule_id) and (rule_ids is None or r in rule_ids)

    prec, rec = [], []
    for stratum, size, review in units:
        correct, marked, missed = _counts(review, key)
        prec.append(UnitCounts(stratum, size, correct, marked))
        rec.append(UnitCounts(stratum, size, correct, correct + missed))
    return FieldFigure(family, rule_id, label, ratio_estimate(prec), ratio_estimate(rec))


def field_estimates(session: Session, actor: Actor, month: str, *, plan_id: int | None = None) -> FieldReport:
    """The month's field precision and recall per family and per rule (inspectors, managers, admins).

    Raises:
        AccessDenied: a staff account.
        ValueError: a month not written ``YYYY-MM``.
    """
    require(actor, FIELD_READERS, "see field precision and recall")
    if "-W" in month:
        raise ValueError(f"month {month!r}: expected YYYY-MM")
    period_month(month)  # validates the form
    drawn, units = _reviewed_units(session, month, plan_id)
    rules: dict[str, set[str]] = defaultdict(set)
    for _, _, review in units:
        for row in [*review.marks, *review.misses]:
            if row.rule_id.startswith(row.family + "."):  # not citizen.abuse (see _figure)
                rules[row.family].add(row.rule_id)
    families = [_figure(units, fam, None, FAMILY_LABELS.get(fam, fam)) for fam in FAMILY_LABELS]
    per_rule = [_figure(units, fam, rid, rid) for fam in FAMILY_LABELS for rid in sorted(rules.get(fam, ()))]
    return FieldReport(month, len(units), drawn, families, per_rule)


def rule_group_figure(session: Session, actor: Actor, month: str, family: str, rule_ids: frozenset[str], label: str, *,
                      plan_id: int | None = None) -> FieldFigure:
    """Field precision and recall of a group of rules of one family (e.g. the required courtesy phrases).

    Raises:
        AccessDenied: a staff account.
    """
    require(actor, FIELD_READERS, "see field precision and recall")
    period_month(month)
    _, units = _reviewed_units(session, month, plan_id)
    return _figure(units, family, None, label, frozenset(rule_ids))


def circular_rows(report: FieldReport) -> list[dict]:
    """The circular appendix's rows (Chinese column names): one per family, then one per rule."""
    rows = []
    for fig in [*report.families, *report.rules]:
        rows.append({
            "类别": FAMILY_LABELS.get(fig.family, fig.family),
            "规则": fig.rule_id or "(全部)",
            "查准率": fig.precision.label(),
            "查全率": fig.recall.label(),
            "复核命中数": fig.precision.n,
            "实际发生数": fig.recall.n,
            "抽检复核通次": fig.recall.units,
        })
    return rows
