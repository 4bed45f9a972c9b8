"""``windowqa eval demo``'s field section: do the field estimates' intervals contain the truth?

After ``windowqa demo --review`` the store holds a reviewed sample. For each sampled month and
for forbidden phrases and the required courtesy phrases (the rulebook's required rules), this
puts side by side:

* the **field estimate** (:func:`scoring.access.field_estimates`: weighted ratio, Wilson 95 %
  interval, n) from the reviews alone;
* the **true value** of what it estimates: the same counts over every served interaction of the
  month, judged from ``truth.json`` (:mod:`windowqa.demo.judge`): precision = correct hits /
  hits, recall = correct hits / (correct hits + phrases said and missed);
* whether the interval contains the true value.

The demo-wide phrase figures of ``windowqa eval demo`` (every staff line, inside an interaction
or not) are shown next to them for reference; they differ slightly from the estimand.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from models.db import UserRole

FORBIDDEN = "forbidden"
COURTESY = "courtesy"


def _true_ratios(judged: dict, interaction_ids: set[int], key) -> dict[str, Any]:
    correct = marked = missed = 0
    for iid in interaction_ids:
        j = judged.get(iid)
        if j is None:
            continue
        for h in j.hits:
            if key(h.family, h.rule_id):
                marked += 1
                correct += h.correct
        missed += sum(1 for m in j.misses if key(m.family, m.rule_id))
    return {"precision": round(correct / marked, 4) if marked else None, "recall": round(correct / (correct + missed), 4) if correct + missed else None,
            "hits": marked, "correct": correct, "missed": missed}


def _estimate(est) -> dict[str, Any]:
    return {"value": None if est.value is None else round(est.value, 4), "low": None if est.low is None else round(est.low, 4),
            "high": None if est.high is None else round(est.high, 4), "n": est.n, "units": est.units, "label": est.label()}


def _contains(est: dict, true: float | None) -> bool | None:
    if est["value"] is None or true is None:
        return None
    return est["low"] - 1e-9 <= true <= est["high"] + 1e-9


def field_comparison(session, truth, rulebook, demo_phrases: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per sampled month (empty when the store holds no sampled review)."""
    from models.db import Interaction
    from models.review_db import SampleDrawRow, SampleReviewRow
    from scoring.access.field import field_estimates, rule_group_figure
    from scoring.access.sampling import period_bounds, period_month
    from scoring.accounts import Actor
    from windowqa.demo.judge import judge_interactions

    if not session.scalar(select(func.count()).select_from(SampleReviewRow)):
        return []
    actor = Actor(user_id=0, username="eval", role=UserRole.MANAGER)
    required = frozenset(r.id for r in rulebook.required_rules)
    judged = judge_interactions(session, truth)
    out = []
    for month in sorted({period_month(p) for p in session.scalars(select(SampleDrawRow.period))}):
        start, end = period_bounds(month)
        population = set(session.scalars(select(Interaction.id).where(
            Interaction.served.is_(True), Interaction.started_at >= start, Interaction.started_at < end)))
        report = field_estimates(session, actor, month)
        forbidden = next(f for f in report.families if f.family == FORBIDDEN)
        req = rule_group_figure(session, actor, month, COURTESY, required, "必备文明用语")
        groups = {
            "forbidden": (forbidden, lambda f, r: f == FORBIDDEN and r.startswith("forbidden."),
                          {"precision": demo_phrases["families"]["forbidden"]["precision"], "recall": demo_phrases["families"]["forbidden"]["recall"]}),
            "required_courtesy": (req, lambda f, r: r in required, {"precision": None, "recall": demo_phrases["required_courtesy"]["recall"]}),
        }
        entry: dict[str, Any] = {"month": month, "reviewed": report.reviewed, "drawn": report.drawn, "population": len(population), "groups": {}}
        for name, (figure, key, demo_wide) in groups.items():
            true = _true_ratios(judged, population, key)
            g = {}
            for measure in ("precision", "recall"):
                est = _estimate(getattr(figure, measure))
                g[measure] = {"field": est, "true": true[measure], "contained": _contains(est, true[measure]), "demo_wide": demo_wide[measure]}
            g["true_counts"] = {k: true[k] for k in ("hits", "correct", "missed")}
            entry["groups"][name] = g
        out.append(entry)
    return out


def format_field(entries: list[dict[str, Any]]) -> list[str]:
    lines = []
    for e in entries:
        lines.append(f"field estimates {e['month']} ({e['reviewed']} reviewed of {e['drawn']} drawn; {e['population']} served interactions)")
        for name, g in e["groups"].items():
            for measure in ("precision", "recall"):
                m = g[measure]
                true = "  n/a" if m["true"] is None else f"{m['true']:.3f}"
                verdict = {True: "contains the truth", False: "MISSES the truth", None: "n/a"}[m["contained"]]
                lines.append(f"  {name:18s} {measure:9s} field {m['field']['label']:28s} true {true}  {verdict}")
    return lines


__all__ = ["field_comparison", "format_field"]
