"""``windowqa eval demo``, the voice measures: roles by utterance and who is serving, by voice.

* **roles by utterance**: each true line takes the role of the stored speech that overlaps it
  most (staff, citizen or unknown); a line no stored utterance overlaps is *lost* and counted
  apart. On a mono hall this is what the split by voice (or the content alone) decides; on a
  stereo hall the channels decide it. A stored utterance that holds at least ``mixed_s`` of
  both a staff line and a citizen line is *mixed* (one line of two speakers).
* **who is serving, by voice**: an interaction should raise the voice flag (``staff_mismatch``
  with evidence ``by: voice``) exactly when the person serving is neither rostered at the
  window nor filed as a substitute then. Flags are per recording, so an interaction counts as
  flagged when its recording carries one for the person serving; any voice flag on a recording
  whose server was on duty is a false flag on each of its interactions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from models.domain import Role
from windowqa.demo.simulator import HallTruth


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def roles_by_utterance(truth: HallTruth, rec_of_truth: dict[str, int | None], utterances: dict[int, list],
                       mixed_s: float = 0.5) -> dict[str, Any]:
    """Role accuracy over the true lines that were heard, the confusion, lost and mixed lines."""
    correct = heard = lost = 0
    confusion: dict[str, Counter] = defaultdict(Counter)
    wrong: list[dict[str, Any]] = []
    truth_by_rec = defaultdict(list)
    for tu in truth.utterances:
        truth_by_rec[tu.recording].append(tu)
    mixed = stored_total = 0
    for rec_id, tus in truth_by_rec.items():
        stored = utterances.get(rec_of_truth.get(rec_id), [])
        for tu in tus:
            by_role: Counter = Counter()
            for su in stored:
                by_role[su.role.value] += _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s)
            if not by_role or max(by_role.values()) <= 0.05:
                lost += 1
                continue
            got = by_role.most_common(1)[0][0]
            heard += 1
            confusion[tu.speaker.value][got] += 1
            if got == tu.speaker.value:
                correct += 1
            elif len(wrong) < 30:
                wrong.append({"utterance": tu.id, "speaker": tu.speaker.value, "stored_role": got, "text": tu.text})
        for su in stored:
            stored_total += 1
            sides = {tu.speaker for tu in tus if _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s) >= mixed_s}
            mixed += {Role.STAFF, Role.CITIZEN} <= sides
    return {
        "accuracy": _ratio(correct, heard), "correct": correct, "heard": heard, "lost": lost,
        "confusion": {k: dict(v) for k, v in sorted(confusion.items())},
        "mixed_utterances": mixed, "stored_utterances": stored_total, "mixed_s": mixed_s, "wrong": wrong,
    }


def _on_duty(truth: HallTruth, window: str, at: Any) -> set[str]:
    """Who may serve at ``window`` at ``at``: the rostered staff member and a filed substitute."""
    duty = {p.staff_no for p in truth.staff if p.window == window}
    if truth.options.substitution_filed:
        duty |= {s.substitute for s in truth.substitutes if s.window == window and s.starts_at <= at <= s.ends_at}
    return duty


def serving_by_voice(truth: HallTruth, rec_of_truth: dict[str, int | None],
                     voice_flags: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Who-is-serving flags by voice against who served each interaction.

    Args:
        voice_flags: (recording id, evidence) of every stored ``staff_mismatch`` flag by voice.
    """
    heard_on: dict[int, set[str]] = defaultdict(set)
    for rec_id, evidence in voice_flags:
        heard_on[rec_id].add(str(evidence.get("heard_staff_no")))
    expected = found = false = not_expected = 0
    by_someone_else = by_someone_else_flagged = 0
    examples: list[dict[str, Any]] = []
    for ti in truth.interactions:
        rec = rec_of_truth.get(ti.recording)
        heard = heard_on.get(rec, set()) if rec is not None else set()
        should = ti.staff_no not in _on_duty(truth, ti.window, ti.started_at)
        rostered = {p.staff_no for p in truth.staff if p.window == ti.window}
        if ti.staff_no not in rostered:  # the substitution scenario, filed or not
            by_someone_else += 1
            by_someone_else_flagged += ti.staff_no in heard
        if should:
            expected += 1
            found += ti.staff_no in heard
        else:
            not_expected += 1
            if heard:
                false += 1
                if len(examples) < 10:
                    examples.append({"interaction": ti.id, "served_by": ti.staff_no, "flagged": sorted(heard)})
    return {
        "interactions": len(truth.interactions), "flag_expected": expected, "flagged": found,
        "recall": _ratio(found, expected), "false_flags": false, "no_flag_expected": not_expected,
        "false_flag_rate": _ratio(false, not_expected),
        "served_by_substitute": by_someone_else, "substitute_heard": by_someone_else_flagged,
        "substitution_filed": truth.options.substitution_filed,
        "recordings_flagged": len(heard_on), "false_examples": examples,
    }


def load_voice_flags(session: Any) -> list[tuple[int, dict[str, Any]]]:
    """(recording id, evidence) of every who-is-serving flag raised by voice."""
    from sqlalchemy import select

    from models.db import Flag, FlagKind

    rows = session.execute(select(Flag.recording_id, Flag.evidence).where(Flag.kind == FlagKind.STAFF_MISMATCH))
    return [(rid, ev) for rid, ev in rows if rid is not None and isinstance(ev, dict) and ev.get("by") == "voice"]


__all__ = ["load_voice_flags", "roles_by_utterance", "serving_by_voice"]
