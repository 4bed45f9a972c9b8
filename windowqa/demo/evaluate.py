"""``windowqa eval demo``: what the pipeline stored, compared with the simulator's ground truth.

Measures (each with the counts behind it):

* **phrases on audio**, per family (courtesy, phone, forbidden): a stored hit on a staff
  utterance is correct when a ground-truth staff line overlapping that utterance in time must or
  may produce the rule (precision); a rule a staff line must produce is found when a stored staff
  utterance overlapping the line has it (recall). ``required_courtesy`` is the recall of the
  rulebook's required rules (greeting, farewell) alone.
* **segmentation**: a true interaction is matched when a stored interaction of the same recording
  starts and ends within ``boundary_s`` (2 s) of it; accuracy = matched / max(true, stored), so
  both missed splits and extra splits count.
* **staff attribution**: the staff member stored on the interaction that overlaps a true
  interaction most is the one who served.
* **rating links**: a rating is linked to the stored interaction that overlaps its true
  interaction most.
* **field estimates** (after ``windowqa demo --review``): the reviewed sample's precision and
  recall intervals against the true values (:mod:`windowqa.demo.field_check`);
* **七.1 situations** (``evaluate_situations``): per situation rule, detection, missing-phrase
  flag and strength precision and recall over the served interactions.
* **attendance**: the class of every staff half-day (on time, late, early leave, missing
  check, leave, ...) equals the expected one; unknown faces are recorded as unknown.
* **conduct** (issue 15): telephone phrases, personal calls, retorts and repeat visits, precision
  and recall per item (:mod:`windowqa.demo.conduct_eval`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models.domain import Role
from models.rulebook import Rulebook, load_rulebook
from windowqa.demo.conduct_eval import evaluate_conduct, format_conduct
from windowqa.demo.evaluate_voice import load_voice_flags, roles_by_utterance, serving_by_voice
from windowqa.demo.evaluate_situations import format_situations, situation_report
from windowqa.demo.simulator import HallTruth, load_truth

FAMILIES = ("courtesy", "phone", "forbidden")

# The issue's targets for the default demo (issue 7).
TARGETS = {
    "forbidden_precision": 0.90,
    "forbidden_recall": 0.85,
    "required_courtesy_recall": 0.90,
    "segmentation_accuracy": 0.90,
    "attribution_accuracy": 0.95,
    "rating_link_accuracy": 0.95,
    "attendance_accuracy": 1.00,
    # issue 15, per detected item
    **{f"{item}_{m}": v for item in ("telephone", "personal_call", "retort", "repeat_visit") for m, v in (("precision", 0.90), ("recall", 0.85))},
}


# Issue 17: a mono hall (one microphone per window), roles by utterance.
MONO_TARGETS = {"role_accuracy": 0.95}


class DemoEvalError(RuntimeError):
    """The folder has no ground truth or no demo database."""


@dataclass(frozen=True)
class EvalOptions:
    """Options of the comparison.

    Attributes:
        boundary_s: how far a stored interaction's start and end may be from the truth.
        examples: how many missed and false hits to list per family.
        stored_only: measure only the recordings the store holds as done (a run stopped
            part-way); the report says how many of the truth's recordings that is.
        recordings: measure only these recordings of the truth (ids such as
            ``A01-20260302-am``; to compare two runs on the same part of a hall); None: all.
    """

    boundary_s: float = 2.0
    examples: int = 12
    stored_only: bool = False
    recordings: frozenset[str] | None = None


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def evaluate_demo(folder: str | Path, options: EvalOptions | None = None, *, rulebook: Rulebook | None = None,
                  database_url: str | None = None) -> dict[str, Any]:
    """Compare the demo folder's store with its ground truth.

    Args:
        folder: a folder made by ``windowqa demo`` (``truth.json`` and ``windowqa.db``).
        options: boundary tolerance, examples.
        rulebook: for the required rules and attendance; the shipped one when None.
        database_url: another store to compare (default: the folder's SQLite file).

    Returns:
        A JSON-ready report: ``metrics`` (the headline numbers), ``targets``, ``passed`` and the
        details per measure.

    Raises:
        DemoEvalError: no ground truth or no database in the folder.
    """
    from models.db import make_engine, make_session_factory
    from windowqa.demo.run import DB_NAME
    from windowqa.demo.simulator import SimulationError

    options = options or EvalOptions()
    rulebook = rulebook or load_rulebook()
    folder = Path(folder)
    try:
        truth = load_truth(folder)
    except SimulationError as exc:
        raise DemoEvalError(str(exc)) from None
    if database_url is None:
        db = folder / DB_NAME
        if not db.is_file():
            raise DemoEvalError(f"{db}: no demo database here (run `windowqa demo --dir {folder} --no-serve` first)")
        database_url = f"sqlite:///{db.resolve()}"
    factory = make_session_factory(make_engine(database_url))

    with factory() as s:
        truth, stored = _load_stored(s, truth, options, rulebook)
    staff_no, rec_of_truth, utterances, hits, interactions = (
        stored.staff_no, stored.rec_of_truth, stored.utterances, stored.hits, stored.interactions)

    report: dict[str, Any] = {"folder": str(folder), "options": {"boundary_s": options.boundary_s,
                                                                  "stored_only": options.stored_only}}
    report["recording_ids"] = [r.id for r in truth.recordings]
    report["recordings_measured"] = len(truth.recordings)
    report["missing_recordings"] = [rid for rid, stored in rec_of_truth.items() if stored is None]
    report["phrases"] = _phrases(truth, rec_of_truth, utterances, hits, rulebook, options)
    truth_to_stored = _best_overlap(truth, rec_of_truth, interactions)
    report["segmentation"] = _segmentation(truth, rec_of_truth, interactions, options)
    report["attribution"] = _attribution(truth, truth_to_stored, staff_no)
    report["rating_links"] = _rating_links(truth, stored.ratings, stored.interaction_by_id, rec_of_truth)
    report["attendance"] = _attendance(truth, stored.records, stored.checkins)
    report["courtesy_flags"] = _courtesy_flags(truth, truth_to_stored)
    report["citizen_abuse"] = _abuse(truth, truth_to_stored, stored.abuse_interactions)
    report["conduct"] = stored.conduct
    report["mono"] = truth.options.mono
    report["roles"] = roles_by_utterance(truth, rec_of_truth, utterances)
    report["serving_by_voice"] = serving_by_voice(truth, rec_of_truth, stored.voice_flags)
    report["situations"] = situation_report(truth, truth_to_stored, stored.situation_flags, rulebook)

    from windowqa.demo.field_check import field_comparison

    with factory() as s:  # after `windowqa demo --review`: the field estimates against the truth
        report["field"] = field_comparison(s, truth, rulebook, report["phrases"])
    metrics = _metrics(report)
    report["metrics"] = metrics
    targets = {**TARGETS, **(MONO_TARGETS if truth.options.mono else {})}
    report["targets"] = targets
    report["passed"] = {k: (metrics[k] is not None and metrics[k] >= v) for k, v in targets.items()}
    return report


@dataclass
class _Stored:
    """What the evaluation reads from the demo's store, keyed for the comparisons."""

    staff_no: dict
    rec_of_truth: dict
    utterances: dict
    hits: dict
    interactions: dict
    ratings: dict
    abuse_interactions: set
    interaction_by_id: dict
    situation_flags: dict
    records: Any
    checkins: Any
    conduct: Any
    voice_flags: Any


def _load_stored(s, truth: HallTruth, options: EvalOptions, rulebook: Rulebook) -> tuple[HallTruth, _Stored]:
    """Read the store once; the truth narrowed to the recordings measured (``stored_only``, ``recordings``)."""
    from models.db import Flag, FlagKind, Interaction, Rating, Recording, RecordingStatus, RuleHitRow, Staff, Utterance
    from windowqa.demo.run import attendance_records

    staff_no = {sid: no for sid, no in s.execute(select(Staff.id, Staff.staff_no))}
    recordings = {Path(path).name: rid for rid, path in s.execute(select(Recording.id, Recording.path))}
    rec_of_truth = {r.id: recordings.get(Path(r.path).name) for r in truth.recordings}
    if options.stored_only:
        done = set(s.scalars(select(Recording.id).where(Recording.status == RecordingStatus.DONE)))
        truth = _stored_part(truth, {r for r, rid in rec_of_truth.items() if rid in done})
    if options.recordings is not None:
        truth = _stored_part(truth, {r.id for r in truth.recordings if r.id in options.recordings})
    utterances = defaultdict(list)
    for u in s.scalars(select(Utterance)):
        utterances[u.recording_id].append(u)
    hits = defaultdict(set)
    for uid, rule_id in s.execute(select(RuleHitRow.utterance_id, RuleHitRow.rule_id)):
        hits[uid].add(rule_id)
    interactions = defaultdict(list)
    for i in s.scalars(select(Interaction)):
        interactions[i.recording_id].append(i)
    ratings = {r.serial_no: r for r in s.scalars(select(Rating))}
    abuse_interactions = set(s.scalars(select(RuleHitRow.interaction_id).where(RuleHitRow.rule_id == "citizen.abuse")))
    interaction_by_id = {i.id: i for lst in interactions.values() for i in lst}
    situation_flags = defaultdict(set)
    for iid, evidence in s.execute(select(Flag.interaction_id, Flag.evidence).where(Flag.kind == FlagKind.SITUATION_PHRASE)):
        situation_flags[iid].add((evidence or {}).get("rule_id"))
    records = attendance_records(s, truth, rulebook)
    from attendance.store import load_checkins

    checkins = load_checkins(s, truth.days[0], truth.days[-1], include_unknown=True)
    conduct = evaluate_conduct(s, truth, recordings)
    voice_flags = load_voice_flags(s)
    return truth, _Stored(staff_no, rec_of_truth, utterances, hits, interactions, ratings, abuse_interactions,
                          interaction_by_id, situation_flags, records, checkins, conduct, voice_flags)


def _stored_part(truth: HallTruth, kept: set[str]) -> HallTruth:
    """The truth of the recordings in ``kept`` only (their lines, interactions, calls, ratings)."""
    interactions = [i for i in truth.interactions if i.recording in kept]
    ids = {i.id for i in interactions}
    return replace(truth, recordings=[r for r in truth.recordings if r.id in kept], interactions=interactions,
                   utterances=[u for u in truth.utterances if u.recording in kept],
                   queue_calls=[c for c in truth.queue_calls if c.interaction in ids],
                   ratings=[r for r in truth.ratings if r.interaction in ids])


def _metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a report."""
    ph = report["phrases"]["families"]
    return {
        "forbidden_precision": ph["forbidden"]["precision"],
        "forbidden_recall": ph["forbidden"]["recall"],
        "courtesy_precision": ph["courtesy"]["precision"],
        "courtesy_recall": ph["courtesy"]["recall"],
        "phone_precision": ph["phone"]["precision"],
        "phone_recall": ph["phone"]["recall"],
        "required_courtesy_recall": report["phrases"]["required_courtesy"]["recall"],
        "segmentation_accuracy": report["segmentation"]["accuracy"],
        "attribution_accuracy": report["attribution"]["accuracy"],
        "rating_link_accuracy": report["rating_links"]["accuracy"],
        "attendance_accuracy": report["attendance"]["accuracy"],
        **{f"{item}_{m}": d[m] for item, d in report["conduct"].items() for m in ("precision", "recall")},
        "role_accuracy": report["roles"]["accuracy"],
        "serving_false_flag_rate": report["serving_by_voice"]["false_flag_rate"],
        "serving_recall": report["serving_by_voice"]["recall"],
        "situation_precision": report["situations"]["all"]["detection"]["precision"],
        "situation_recall": report["situations"]["all"]["detection"]["recall"],
    }


def _phrases(truth: HallTruth, rec_of_truth, utterances, hits, rulebook: Rulebook, options: EvalOptions) -> dict[str, Any]:
    required = {r.id for r in rulebook.required_rules}
    truth_by_rec = defaultdict(list)
    for u in truth.utterances:
        truth_by_rec[u.recording].append(u)
    tp = defaultdict(int)
    fp = defaultdict(int)
    found = defaultdict(int)
    expected = defaultdict(int)
    false_hits: dict[str, list] = defaultdict(list)
    missed: dict[str, list] = defaultdict(list)
    per_rule: dict[str, dict[str, int]] = defaultdict(lambda: {"expected": 0, "found": 0, "false": 0})
    req_expected = req_found = 0
    for rec_id, tus in truth_by_rec.items():
        stored = [u for u in utterances.get(rec_of_truth.get(rec_id), []) if u.role is not Role.CITIZEN]
        # precision: every stored staff hit against the staff lines it overlaps
        for su in stored:
            over = [tu for tu in tus if _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s) > 0.05]
            allowed = {r for tu in over if tu.speaker is Role.STAFF for r in (*tu.rule_ids, *tu.optional_rule_ids)}
            for rule in hits.get(su.id, ()):
                family = rule.split(".", 1)[0]
                if family not in FAMILIES:
                    continue
                if rule in allowed:
                    tp[family] += 1
                else:
                    fp[family] += 1
                    per_rule[rule]["false"] += 1
                    if len(false_hits[family]) < options.examples:
                        false_hits[family].append({"rule_id": rule, "recording": rec_id, "start_s": round(su.start_s, 2),
                                                   "stored_text": su.text, "true_lines": [tu.text for tu in over]})
        # recall: every rule a staff line must produce
        for tu in tus:
            if tu.speaker is not Role.STAFF:
                continue
            over = [su for su in stored if _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s) > 0.05]
            got = set().union(*(hits.get(su.id, set()) for su in over)) if over else set()
            for rule in tu.rule_ids:
                family = rule.split(".", 1)[0]
                expected[family] += 1
                per_rule[rule]["expected"] += 1
                ok = rule in got
                found[family] += ok
                per_rule[rule]["found"] += ok
                if rule in required:
                    req_expected += 1
                    req_found += ok
                if not ok and len(missed[family]) < options.examples:
                    missed[family].append({"rule_id": rule, "recording": rec_id, "start_s": tu.start_s, "true_text": tu.text,
                                           "stored_text": " / ".join(su.text for su in over) or None})
    families = {
        f: {
            "precision": _ratio(tp[f], tp[f] + fp[f]), "recall": _ratio(found[f], expected[f]),
            "true_hits": tp[f], "false_hits": fp[f], "expected": expected[f], "found": found[f],
            "false_examples": false_hits[f], "missed_examples": missed[f],
        }
        for f in FAMILIES
    }
    return {
        "families": families,
        "required_courtesy": {"rules": sorted(required), "expected": req_expected, "found": req_found,
                              "recall": _ratio(req_found, req_expected)},
        "per_rule": dict(sorted(per_rule.items())),
    }


def _best_overlap(truth: HallTruth, rec_of_truth, interactions) -> dict[str, Any]:
    """Each true interaction → the stored interaction of its recording that overlaps it most."""
    out = {}
    for ti in truth.interactions:
        best, best_ov = None, 0.0
        for si in interactions.get(rec_of_truth.get(ti.recording), []):
            ov = _overlap(si.start_s, si.end_s, ti.start_s, ti.end_s)
            if ov > best_ov:
                best, best_ov = si, ov
        out[ti.id] = best
    return out


def _segmentation(truth: HallTruth, rec_of_truth, interactions, options: EvalOptions) -> dict[str, Any]:
    matched = 0
    n_truth = len(truth.interactions)
    n_stored = sum(len(interactions.get(rec_of_truth.get(r.id), [])) for r in truth.recordings)
    errors: list[dict[str, Any]] = []
    deltas: list[float] = []
    for rec in truth.recordings:
        stored = sorted(interactions.get(rec_of_truth.get(rec.id), []), key=lambda i: i.start_s)
        used: set[int] = set()
        for ti in (t for t in truth.interactions if t.recording == rec.id):
            hit = next((si for si in stored if si.id not in used and abs(si.start_s - ti.start_s) <= options.boundary_s
                        and abs(si.end_s - ti.end_s) <= options.boundary_s), None)
            if hit is None:
                near = min(stored, key=lambda si: abs(si.start_s - ti.start_s), default=None)
                errors.append({"interaction": ti.id, "scenario": ti.scenario, "variants": ti.variants,
                               "true": [ti.start_s, ti.end_s],
                               "nearest_stored": [round(near.start_s, 2), round(near.end_s, 2), near.split_reason] if near else None})
                continue
            used.add(hit.id)
            matched += 1
            deltas += [abs(hit.start_s - ti.start_s), abs(hit.end_s - ti.end_s)]
    return {
        "accuracy": _ratio(matched, max(n_truth, n_stored)),
        "matched": matched, "true": n_truth, "stored": n_stored,
        "mean_boundary_error_s": round(sum(deltas) / len(deltas), 3) if deltas else None,
        "errors": errors[:30],
    }


def _attribution(truth: HallTruth, truth_to_stored, staff_no) -> dict[str, Any]:
    correct, wrong = 0, []
    for ti in truth.interactions:
        si = truth_to_stored.get(ti.id)
        got = staff_no.get(si.staff_id) if si is not None else None
        if got == ti.staff_no:
            correct += 1
        else:
            wrong.append({"interaction": ti.id, "expected": ti.staff_no, "stored": got})
    return {"accuracy": _ratio(correct, len(truth.interactions)), "correct": correct,
            "total": len(truth.interactions), "wrong": wrong[:30]}


def _rating_links(truth: HallTruth, ratings, interaction_by_id, rec_of_truth) -> dict[str, Any]:
    truth_inter = {t.id: t for t in truth.interactions}
    correct, wrong = 0, []
    for r in truth.ratings:
        stored = ratings.get(r.serial_no)
        target = truth_inter[r.interaction]
        si = interaction_by_id.get(stored.interaction_id) if stored is not None and stored.interaction_id else None
        ok = (si is not None and si.recording_id == rec_of_truth.get(target.recording)
              and _overlap(si.start_s, si.end_s, target.start_s, target.end_s) > 0
              and _owner(si, truth, rec_of_truth) == target.id)
        if ok:
            correct += 1
        else:
            wrong.append({"serial_no": r.serial_no, "interaction": r.interaction,
                          "stored_interaction": [round(si.start_s, 2), round(si.end_s, 2)] if si is not None else None})
    mismatch_expected = sum(1 for r in truth.ratings if r.staff_mismatch_expected)
    return {"accuracy": _ratio(correct, len(truth.ratings)), "correct": correct, "total": len(truth.ratings),
            "staff_mismatch_expected": mismatch_expected, "wrong": wrong[:30]}


def _owner(si, truth: HallTruth, rec_of_truth) -> str | None:
    """The true interaction a stored interaction overlaps most."""
    best, best_ov = None, 0.0
    for ti in truth.interactions:
        if rec_of_truth.get(ti.recording) != si.recording_id:
            continue
        ov = _overlap(si.start_s, si.end_s, ti.start_s, ti.end_s)
        if ov > best_ov:
            best, best_ov = ti.id, ov
    return best


def _courtesy_flags(truth: HallTruth, truth_to_stored) -> dict[str, Any]:
    """Greeting and farewell present or missing per served interaction, as the inspectors' flags see it."""
    staff_rules = defaultdict(set)
    for u in truth.utterances:
        if u.speaker is Role.STAFF:
            staff_rules[u.interaction].update(u.rule_ids)
    correct = total = 0
    wrong = []
    for ti in truth.interactions:
        si = truth_to_stored.get(ti.id)
        if not ti.served:
            continue
        want = ("courtesy.greet" in staff_rules[ti.id], "courtesy.farewell" in staff_rules[ti.id])
        got = (bool(si.has_greeting), bool(si.has_farewell)) if si is not None else None
        total += 1
        if got == want:
            correct += 1
        else:
            wrong.append({"interaction": ti.id, "expected": want, "stored": got})
    return {"accuracy": _ratio(correct, total), "correct": correct, "total": total, "wrong": wrong[:30]}


def _abuse(truth: HallTruth, truth_to_stored, abuse_interactions) -> dict[str, Any]:
    """Interactions with an abusive citizen that carry a citizen-abuse finding, and those that should not."""
    found = missed = false = 0
    insulted = {u.interaction for u in truth.utterances if u.citizen_abuse}  # citizen_abuse, and retort scenarios
    for ti in truth.interactions:
        si = truth_to_stored.get(ti.id)
        has = si is not None and si.id in abuse_interactions
        if ti.id in insulted:
            found += has
            missed += not has
        else:
            false += has
    return {"interactions": found + missed, "found": found, "recall": _ratio(found, found + missed), "false_interactions": false}


def _attendance(truth: HallTruth, records, checkins) -> dict[str, Any]:
    got = {}
    for rec in records:
        for h in (rec.morning, rec.afternoon):
            got[(rec.staff_id, rec.day.isoformat(), h.half.value)] = h
    correct, wrong = 0, []
    expected = truth.attendance.expected
    for e in expected:
        h = got.get((e.staff_no, e.day.isoformat(), e.half))
        status = h.status.value if h is not None else None
        if status == e.status:
            correct += 1
        else:
            wrong.append({**e.to_json(), "stored": status})
    unknown_expected = sum(1 for c in truth.attendance.checkins if c.staff_no is None)
    unknown_stored = sum(1 for c in checkins if c.staff_id is None)
    face_expected = [c for c in truth.attendance.checkins if c.method == "face" and c.staff_no]
    stored_faces = {(c.staff_id, c.at.replace(microsecond=0)) for c in checkins if c.method.value == "face"}
    face_ok = sum(1 for c in face_expected if (c.staff_no, c.at.replace(microsecond=0)) in stored_faces)
    return {
        "accuracy": _ratio(correct, len(expected)), "correct": correct,
        "total": len(expected), "wrong": wrong,
        "face_checkins": {"expected": len(face_expected), "identified": face_ok},
        "unknown_faces": {"expected": unknown_expected, "recorded_as_unknown": unknown_stored},
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a short table for the terminal."""
    def pct(v):
        return "  n/a" if v is None else f"{100 * v:5.1f}%"

    lines = [f"demo evaluation: {report['folder']}" + (f" (only the {report['recordings_measured']} recordings stored)"
                                                       if report["options"].get("stored_only") else "")]
    ph = report["phrases"]
    lines.append("phrases on audio      precision  recall   (true/false hits, found/expected)")
    for f in FAMILIES:
        d = ph["families"][f]
        lines.append(f"  {f:19s} {pct(d['precision'])}   {pct(d['recall'])}   ({d['true_hits']}/{d['false_hits']}, {d['found']}/{d['expected']})")
    rc = ph["required_courtesy"]
    lines.append(f"  required courtesy           {pct(rc['recall'])}   ({rc['found']}/{rc['expected']}: {', '.join(rc['rules'])})")
    sg = report["segmentation"]
    lines.append(f"segmentation (±{report['options']['boundary_s']:g} s)   {pct(sg['accuracy'])}   "
                 f"({sg['matched']} matched; {sg['true']} true, {sg['stored']} stored; mean boundary error {sg['mean_boundary_error_s']} s)")
    at = report["attribution"]
    lines.append(f"staff attribution       {pct(at['accuracy'])}   ({at['correct']}/{at['total']})")
    rl = report["rating_links"]
    lines.append(f"rating links            {pct(rl['accuracy'])}   ({rl['correct']}/{rl['total']})")
    ad = report["attendance"]
    lines.append(f"attendance classes      {pct(ad['accuracy'])}   ({ad['correct']}/{ad['total']} half-days; face check-ins "
                 f"{ad['face_checkins']['identified']}/{ad['face_checkins']['expected']} identified, unknown faces "
                 f"{ad['unknown_faces']['recorded_as_unknown']}/{ad['unknown_faces']['expected']})")
    cf = report["courtesy_flags"]
    ab = report["citizen_abuse"]
    lines.append(f"greeting/farewell flags  {pct(cf['accuracy'])}   ({cf['correct']}/{cf['total']} served interactions)")
    lines.append(f"citizen abuse           {pct(ab['recall'])}   ({ab['found']}/{ab['interactions']} abusive interactions found, "
                 f"{ab['false_interactions']} others marked)")
    lines.extend(format_conduct(report["conduct"]))
    ro, sv = report["roles"], report["serving_by_voice"]
    lines.append(f"roles by utterance      {pct(ro['accuracy'])}   ({ro['correct']}/{ro['heard']} heard lines; {ro['lost']} lost; "
                 f"{ro['mixed_utterances']}/{ro['stored_utterances']} stored utterances mix staff and citizen; "
                 f"{'mono' if report['mono'] else 'stereo'})")
    lines.append(f"who serves, by voice    false flags {sv['false_flags']}/{sv['no_flag_expected']} interactions "
                 f"({pct(sv['false_flag_rate'])}); flagged {sv['flagged']}/{sv['flag_expected']} that should be; "
                 f"substitute's interactions flagged {sv['substitute_heard']}/{sv['served_by_substitute']} "
                 f"(substitution {'filed: none expected' if sv['substitution_filed'] else 'not filed'})")
    from windowqa.demo.field_check import format_field

    lines.extend(format_field(report.get("field") or []))
    lines.extend(format_situations(report["situations"]))
    lines.append("targets: " + ", ".join(f"{k} {'ok' if ok else 'MISSED'}" for k, ok in report["passed"].items()))
    for f in FAMILIES:
        d = ph["families"][f]
        for ex in d["false_examples"][:5]:
            lines.append(f"  false {ex['rule_id']}: heard {ex['stored_text']!r}, said {' / '.join(ex['true_lines']) or '(nothing)'!r}")
        for ex in d["missed_examples"][:5]:
            lines.append(f"  missed {ex['rule_id']}: said {ex['true_text']!r}, heard {ex['stored_text']!r}")
    for e in sg["errors"][:5]:
        lines.append(f"  segmentation: {e['interaction']} ({e['scenario']} {','.join(e['variants'])}) true {e['true']} nearest {e['nearest_stored']}")
    for w in ad["wrong"][:5]:
        lines.append(f"  attendance: {w['staff_no']} {w['day']} {w['half']} expected {w['status']}, stored {w['stored']}")
    return "\n".join(lines)


__all__ = ["DemoEvalError", "EvalOptions", "FAMILIES", "MONO_TARGETS", "TARGETS", "evaluate_demo", "format_report"]
