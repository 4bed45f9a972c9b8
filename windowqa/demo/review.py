"""``windowqa demo --review``: an inspector who knows the ground truth closes the field loop on the demo.

1. define a sampling plan (抽检) asking for ``share`` of each staff member's served interactions
   per month, half from flagged ones, seeded, and draw it (the same service as ``windowqa sample``);
2. review every drawn interaction through :func:`scoring.access.record_review`, as the demo's
   inspector: each system hit marked correct or wrong and every phrase staff really said that
   the system missed recorded at its line (:mod:`windowqa.demo.judge`, from ``truth.json``);
   a missed forbidden phrase becomes a confirmed flag;
3. retrain the phrase classifier from those reviews (``windowqa nlp retrain``'s judged candidate)
   into the demo folder's own model store (``<folder>/models``), never the site's.

``windowqa eval demo`` then compares the field estimates with the truth.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

INSPECTOR = "demo-inspector"


@dataclass(frozen=True)
class ReviewOptions:
    """Options of the simulated inspector.

    Attributes:
        share: the part of the served interactions drawn (per staff member and month).
        seed: the sampling plan's seed (the hold-out of the retraining uses it too).
        flagged_share: the part of each staff member's sample drawn from flagged interactions.
        retrain: retrain the classifier from the reviews afterwards.
    """

    share: float = 0.2
    seed: int = 1
    flagged_share: float = 0.5
    retrain: bool = True


@dataclass
class ReviewSummary:
    draws: list[dict[str, Any]] = field(default_factory=list)
    reviewed: int = 0
    marks: dict[str, int] = field(default_factory=dict)  # correct / wrong
    misses: dict[str, int] = field(default_factory=dict)  # per family
    flags_raised: int = 0
    retrain: dict[str, Any] | None = None
    retrain_text: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"draws": self.draws, "reviewed": self.reviewed, "marks": self.marks, "misses": self.misses,
                "flags_raised": self.flags_raised, "retrain": self.retrain}


def _inspector(session):
    from models.db import UserAccount
    from scoring.accounts import Actor

    account = session.scalar(select(UserAccount).where(UserAccount.username == INSPECTOR))
    if account is None:
        raise ValueError(f"the demo store has no {INSPECTOR} account (run the demo with its accounts)")
    return Actor(account.id, account.username, account.role)


def _months(truth) -> list[str]:
    return sorted({f"{d:%Y-%m}" for d in truth.days})


def _per_unit(session, month: str, share: float) -> int:
    """Interactions per staff member that make about ``share`` of the month's served interactions (all at 1.0).

    A plan asks the same number of everyone; the draw's weights correct for staff who served
    more or fewer citizens than the mean.
    """
    from models.db import Interaction
    from scoring.access.sampling import period_bounds

    start, end = period_bounds(month)
    staff = Counter(session.scalars(select(Interaction.staff_id).where(
        Interaction.served.is_(True), Interaction.started_at >= start, Interaction.started_at < end)))
    if not staff:
        return 0
    if share >= 1.0:
        return max(staff.values())
    return max(1, math.ceil(share * sum(staff.values()) / len(staff)))


def _review_drawn(session, actor, truth, rulebook, draw_id: int, summary: ReviewSummary) -> None:
    from scoring import access
    from windowqa.demo.judge import judge_interactions

    judged = judge_interactions(session, truth)
    for item in access.assigned_reviews(session, actor, draw_id=draw_id):
        if item.reviewed or item.interaction_id is None:
            continue
        j = judged[item.interaction_id]
        marks = {h.hit_id: h.correct for h in j.hits}
        misses = [access.MissSpec(m.rule_id, "said", utterance_seq=m.utterance_seq,
                                  start_s=None if m.utterance_seq is not None else m.start_s,
                                  end_s=None if m.utterance_seq is not None else m.end_s, note=f"实际说的是：{m.text}")
                  for m in j.misses]
        result = access.record_review(session, actor, item.sampled_id, marks, misses, rulebook, comment="演示：按真实情况复核")
        summary.reviewed += 1
        summary.marks["correct"] = summary.marks.get("correct", 0) + result.correct
        summary.marks["wrong"] = summary.marks.get("wrong", 0) + result.wrong
        for m in j.misses:
            summary.misses[m.family] = summary.misses.get(m.family, 0) + 1
        summary.flags_raised += len(result.flag_ids)


def review_demo(factory, truth, rulebook, folder: Path, options: ReviewOptions, *, settings=None) -> ReviewSummary:
    """Draw, review with the ground truth and (optionally) retrain; returns what was done.

    Raises:
        ValueError: the store has no demo inspector, or a month was sampled before.
    """
    from scoring import access

    summary = ReviewSummary()
    with factory() as s, s.begin():
        actor = _inspector(s)
        for month in _months(truth):
            per_unit = _per_unit(s, month, options.share)
            if not per_unit:
                continue
            plan = access.create_plan(s, actor, access.PlanSpec(
                name=f"演示抽检 {month}", per_unit=per_unit, period_kind="month", flagged_share=options.flagged_share, seed=options.seed))
            draw = access.draw_sample(s, actor, plan.id, month)
            summary.draws.append({"plan": plan.id, "draw": draw.id, "period": month, "per_unit": per_unit,
                                  "drawn": draw.drawn, "population": draw.population, "strata": draw.strata})
            _review_drawn(s, actor, truth, rulebook, draw.id, summary)
    if options.retrain:
        _retrain(factory, rulebook, folder, options, settings, summary)
    return summary


def _retrain(factory, rulebook, folder: Path, options: ReviewOptions, settings, summary: ReviewSummary) -> None:
    from nlp.model_store import ClassifierStore
    from nlp.retrain import RetrainOptions
    from windowqa.retraining import bundled_eval_sets, format_result, retrain_from_reviews

    store = ClassifierStore(Path(folder) / "models")
    result = retrain_from_reviews(factory, rulebook, store, RetrainOptions(seed=options.seed, eval_sets=bundled_eval_sets()),
                                  cache_dir=settings.data_dir / "cache" if settings is not None else None)
    summary.retrain = result.as_json()
    summary.retrain_text = format_result(result)


def format_review(summary: ReviewSummary) -> str:
    lines = []
    for d in summary.draws:
        lines.append(f"sample {d['period']}: {d['drawn']} of {d['population']} served interactions "
                     f"({d['per_unit']} per staff member, seeded; strata {len(d['strata'])})")
    lines.append(f"reviewed {summary.reviewed}: hits {summary.marks.get('correct', 0)} correct, {summary.marks.get('wrong', 0)} wrong; "
                 f"misses recorded {sum(summary.misses.values())} ({', '.join(f'{k} {v}' for k, v in sorted(summary.misses.items())) or 'none'}); "
                 f"{summary.flags_raised} missed forbidden phrases became confirmed flags")
    if summary.retrain_text:
        lines.append("retraining from the reviews:")
        lines.append(summary.retrain_text)
    return "\n".join(lines)


__all__ = ["INSPECTOR", "ReviewOptions", "ReviewSummary", "format_review", "review_demo"]
