"""``windowqa eval demo``, the 七.1 situations: detected where the truth holds them, and the phrase checked.

Per situation rule (``TruthInteraction.situations``), over the served true interactions, each
judged on the stored interaction that overlaps it most:

* **detection**: the stored interaction carries the situation (a situation-phrase flag of the
  rule, or a strength line of it: a positive explanation line with its rule id);
* **flag** (phrase missing): a situation-phrase flag of the rule where the truth has the
  situation and staff did not say the phrase;
* **strength** (phrase said): a strength line where the truth has the situation and the phrase said.

Precision = correct / stored, recall = correct / true, each with its counts. Look-alike
interactions (``lookalike_*``) are where false detections would show.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from models.rulebook import Rulebook

# The targets for every detected situation (issue 15), at the default 20 dB.
SITUATION_TARGETS = {"precision": 0.90, "recall": 0.85}


def _pr(tp: int, fp: int, fn: int) -> dict[str, Any]:
    return {"precision": round(tp / (tp + fp), 4) if tp + fp else None, "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "correct": tp, "false": fp, "missed": fn}


def stored_situations(interaction, flags_by_interaction: dict[int, set[str]], rule_ids: set[str]) -> tuple[set[str], set[str]]:
    """(rules flagged as missing, rules credited as said) on one stored interaction."""
    if interaction is None:
        return set(), set()
    flagged = flags_by_interaction.get(interaction.id, set()) & rule_ids
    strengths = {line.get("rule_id") for line in (interaction.explanation or [])
                 if line.get("rule_id") in rule_ids and float(line.get("points") or 0.0) > 0}
    return flagged, strengths


def situation_report(truth, truth_to_stored: dict[str, Any], flags_by_interaction: dict[int, set[str]],
                     rulebook: Rulebook, examples: int = 8) -> dict[str, Any]:
    """Detection, flag and strength precision and recall per situation rule (see the module)."""
    rule_ids = {r.id for r in rulebook.situational_rules}
    counts = {kind: defaultdict(lambda: [0, 0, 0]) for kind in ("detection", "flag", "strength")}
    errors: list[dict[str, Any]] = []
    for ti in truth.interactions:
        if not ti.served:
            continue
        flagged, strengths = stored_situations(truth_to_stored.get(ti.id), flags_by_interaction, rule_ids)
        for rid in sorted(rule_ids):
            true_on = rid in ti.situations
            said = ti.situations.get(rid, False)
            for kind, want, got in (("detection", true_on, rid in flagged or rid in strengths),
                                    ("flag", true_on and not said, rid in flagged),
                                    ("strength", true_on and said, rid in strengths)):
                c = counts[kind][rid]
                c[0] += want and got
                c[1] += got and not want
                c[2] += want and not got
                if want != got and kind == "detection" and len(errors) < examples:
                    errors.append({"interaction": ti.id, "scenario": ti.scenario, "variants": ti.variants, "rule_id": rid,
                                   "expected": want, "stored": got})
    per_rule = {rid: {kind: _pr(*counts[kind][rid]) for kind in counts} for rid in sorted(rule_ids)}
    total = {kind: _pr(*(sum(counts[kind][rid][k] for rid in rule_ids) for k in range(3))) for kind in counts}
    return {"rules": per_rule, "all": total, "targets": SITUATION_TARGETS, "errors": errors,
            "lookalikes": sum(1 for ti in truth.interactions if ti.scenario.startswith("lookalike_"))}


def format_situations(report: dict[str, Any]) -> list[str]:
    """The situations' lines of the terminal report."""
    def pct(v):
        return "  n/a" if v is None else f"{100 * v:5.1f}%"

    lines = ["七.1 situations        precision  recall   (detection correct/false/missed; flag P/R; strength P/R)"]
    for rid, d in [*report["rules"].items(), ("all", report["all"])]:
        det, flag, strength = d["detection"], d["flag"], d["strength"]
        lines.append(f"  {rid:26s} {pct(det['precision'])}   {pct(det['recall'])}   ({det['correct']}/{det['false']}/{det['missed']}; "
                     f"flag {pct(flag['precision'])}/{pct(flag['recall'])}; strength {pct(strength['precision'])}/{pct(strength['recall'])})")
    lines.append(f"  ({report['lookalikes']} look-alike interactions)")
    for e in report["errors"][:5]:
        lines.append(f"  situation {e['rule_id']}: {e['interaction']} ({e['scenario']} {','.join(e['variants'])}) "
                     f"expected {e['expected']}, stored {e['stored']}")
    return lines


__all__ = ["SITUATION_TARGETS", "format_situations", "situation_report", "stored_situations"]
