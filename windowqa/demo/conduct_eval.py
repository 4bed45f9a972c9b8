"""Issue 15's conduct checks in ``windowqa eval demo``: precision and recall per item.

* ``telephone`` (七.2): a stored telephone flag names the phrase a call lacked; it is correct when
  the true interaction it lies in must raise ``telephone:<that rule>``;
* ``personal_call`` (二.4): a call while serving, not about the citizen's matter;
* ``retort`` (二.7): a ``forbidden.retort`` flag; ``link_accuracy`` is the share of correct retort
  flags whose link to a preceding citizen insult is as true (linked when provoked, none otherwise);
* ``repeat_visit`` (八.3/八.4): a flag's two queue tickets are a true return for the same matter;
  ``linked`` counts correct flags with both interactions linked and the first visit's staff member.

A stored flag is placed in the true interaction of its recording that its utterance overlaps
(within ``tolerance_s``). Look-alike scenarios raise no flag; their false flags are listed per scenario.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

ITEMS = ("telephone", "personal_call", "retort", "repeat_visit")
RETORT_RULE = "forbidden.retort"


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _label(flag) -> str | None:
    from models.db import FlagKind

    ev = flag.evidence or {}
    if flag.kind is FlagKind.TELEPHONE:
        return f"telephone:{ev.get('rule_id')}"
    if flag.kind is FlagKind.PERSONAL_CALL:
        return "personal_call"
    if flag.kind is FlagKind.FORBIDDEN and ev.get("rule_id") == RETORT_RULE:
        return "retort"
    return None


def _item(label: str) -> str:
    return label.split(":", 1)[0]


def _place(truth, rec_id: str, start_s: float, end_s: float, tolerance_s: float):
    best, best_key = None, None
    for ti in truth.interactions:
        if ti.recording != rec_id:
            continue
        overlap = min(end_s, ti.end_s + tolerance_s) - max(start_s, ti.start_s - tolerance_s)
        if overlap > 0 and (best_key is None or overlap > best_key):
            best, best_key = ti, overlap
    return best


def evaluate_conduct(session, truth, recordings_by_name: dict[str, int], *, tolerance_s: float = 1.5) -> dict[str, Any]:
    """The conduct items of one demo store against its truth (read-only)."""
    from models.db import Flag, FlagKind, Interaction, Staff

    truth_rec = {rid: tr.id for tr in truth.recordings if (rid := recordings_by_name.get(Path(tr.path).name)) is not None}
    expected: dict[str, set[str]] = {ti.id: {_item(c) if c.startswith("retort") else c for c in ti.conduct} for ti in truth.interactions}
    provoked = {ti.id: "retort:provoked" in ti.conduct for ti in truth.interactions}
    scenario = {ti.id: ti.scenario for ti in truth.interactions}
    found: dict[str, set[str]] = defaultdict(set)
    unplaced: Counter[str] = Counter()
    link_ok = link_total = 0
    for flag in session.scalars(select(Flag).where(Flag.kind.in_([FlagKind.TELEPHONE, FlagKind.PERSONAL_CALL, FlagKind.FORBIDDEN]))):
        label = _label(flag)
        if label is None:
            continue
        ev = flag.evidence or {}
        ti = _place(truth, truth_rec.get(flag.recording_id, ""), float(ev.get("start_s", -1e9)), float(ev.get("end_s", -1e9)), tolerance_s)
        if ti is None:
            unplaced[_item(label)] += 1
            continue
        found[ti.id].add(label)
        if label == "retort" and "retort" in expected[ti.id]:
            link_total += 1
            link_ok += bool(ev.get("provoked_by")) == provoked[ti.id]
    items: dict[str, Any] = {}
    for item in ITEMS[:3]:
        tp = fp = fn = 0
        false_by_scenario: Counter[str] = Counter()
        missed_by_scenario: Counter[str] = Counter()
        for tid in expected:
            want = {x for x in expected[tid] if _item(x) == item}
            got = {x for x in found.get(tid, set()) if _item(x) == item}
            tp += len(want & got)
            fp += len(got - want)
            fn += len(want - got)
            if got - want:
                false_by_scenario[scenario[tid]] += len(got - want)
            if want - got:
                missed_by_scenario[scenario[tid]] += len(want - got)
        fp += unplaced[item]
        items[item] = {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "true": tp, "false": fp, "missed": fn,
                       "false_by_scenario": dict(false_by_scenario), "missed_by_scenario": dict(missed_by_scenario)}
    items["retort"]["link_accuracy"] = _ratio(link_ok, link_total)
    staff_no = dict(session.execute(select(Staff.id, Staff.staff_no)).all())
    interactions = {i.id: i for i in session.scalars(select(Interaction))}
    items["repeat_visit"] = _repeat_visits(session, truth, staff_no, interactions)
    return items


def _repeat_visits(session, truth, staff_no: dict[int, str], interactions: dict) -> dict[str, Any]:
    from models.db import Flag, FlagKind

    by_ticket = {(q.window, q.ticket_no): q.interaction for q in truth.queue_calls}
    served_by = {ti.id: ti.staff_no for ti in truth.interactions}
    positives = {(r.first, r.back) for r in truth.repeat_visits if r.flag}
    lookalikes = {(r.first, r.back) for r in truth.repeat_visits if not r.flag}
    tp = fp = linked = 0
    false_lookalike = 0
    for flag in session.scalars(select(Flag).where(Flag.kind == FlagKind.REPEAT_VISIT)):
        ev = flag.evidence or {}
        pair = (by_ticket.get((ev.get("first", {}).get("window"), ev.get("first", {}).get("ticket_no"))),
                by_ticket.get((ev.get("return", {}).get("window"), ev.get("return", {}).get("ticket_no"))))
        if pair in positives:
            tp += 1
            ok = (flag.interaction_id in interactions and flag.linked_interaction_id in interactions
                  and staff_no.get(flag.staff_id) == served_by[pair[0]])
            linked += ok
        else:
            fp += 1
            false_lookalike += pair in lookalikes
    return {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, len(positives)), "true": tp, "false": fp,
            "missed": len(positives) - tp, "lookalikes": len(lookalikes), "false_on_lookalikes": false_lookalike,
            "linked": linked}


def format_conduct(items: dict[str, Any]) -> list[str]:
    """The conduct items as lines of ``windowqa eval demo``'s table."""
    def pct(v):
        return "  n/a" if v is None else f"{100 * v:5.1f}%"

    lines = ["conduct (issue 15)    precision  recall   (true/false/missed)"]
    for item in ITEMS:
        d = items[item]
        extra = ""
        if item == "retort":
            extra = f"; link to the insult {pct(d['link_accuracy'])}"
        elif item == "repeat_visit":
            extra = f"; {d['linked']}/{d['true']} linked to both visits and the first's staff; {d['false_on_lookalikes']}/{d['lookalikes']} look-alikes flagged"
        else:
            if d["false_by_scenario"]:
                extra += "; false in " + ", ".join(f"{k} {v}" for k, v in sorted(d["false_by_scenario"].items()))
            if d["missed_by_scenario"]:
                extra += "; missed in " + ", ".join(f"{k} {v}" for k, v in sorted(d["missed_by_scenario"].items()))
        lines.append(f"  {item:19s} {pct(d['precision'])}   {pct(d['recall'])}   ({d['true']}/{d['false']}/{d['missed']}{extra})")
    return lines
