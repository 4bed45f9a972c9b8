"""Flag rows of a scored interaction beyond its hits: every deduction no other flag stands for, 七.1
situations whose phrase was missing, conduct findings (telephone, personal calls) and a retort's
provoking abuse. :mod:`scoring.store.recordings` writes what these build."""

from __future__ import annotations

from datetime import datetime

from models.db import FlagKind, Recording
from models.domain import RuleHit
from scoring.conduct import PERSONAL_CALL, provoking_abuse
from scoring.score import REQUIRED_COURTESY_IDS, InteractionScore
from scoring.segment import MatchedUtterance, Segment

def evidence_of(recording: Recording, item: MatchedUtterance, hit: RuleHit | None = None) -> dict:
    u = item.utterance
    ev = {
        "recording": recording.path,
        "start_s": round(u.start_s, 3),
        "end_s": round(u.end_s, 3),
        "text": u.text,
        "role": u.role.value,
        "started_at": u.started_at.isoformat() if u.started_at else None,
    }
    if hit is not None:
        ev.update(rule_id=hit.rule_id, method=hit.method.value, score=round(float(hit.score), 4), span=[hit.start, hit.end])
    return ev


def deduction_flags(recording: Recording, seg: Segment, score: InteractionScore, common: dict, utterance_ids: dict[int, int],
                    when: datetime) -> list[dict]:
    """A flag for every deduction line no forbidden or missing-courtesy flag stands for (a situational courtesy not said).

    Every lost point is then a flag that staff see and may appeal; the dedupe key names the line's
    utterance (the interaction's first when the line is about the whole interaction), which keeps
    its id when interactions are rebuilt.
    """
    covered = {(hit.rule_id, item.seq) for item, hit in score.forbidden}
    covered |= {(f.rule_id, f.anchor.seq) for f in score.findings if f.flagged}  # their own flags (finding_flags)
    covered |= {(f.rule.id, f.anchor.seq) for f in score.situations if f.said is None}  # situation_flags
    out = []
    for line in score.lines:
        if line.points >= 0 or line.rule_id is None or (line.rule_id, line.utterance_seq) in covered:
            continue
        if line.utterance_seq is None and line.rule_id in REQUIRED_COURTESY_IDS:
            continue  # the interaction's missing-courtesy flag
        anchor = next((i for i in seg.items if i.seq == line.utterance_seq), seg.items[0])
        u = anchor.utterance
        whole = line.utterance_seq is None
        evidence = {
            "recording": recording.path, "rule_id": line.rule_id, "line_seq": line.utterance_seq, "points": -line.points, "reason": line.reason,
            "start_s": round(seg.start_s if whole else u.start_s, 3), "end_s": round(seg.end_s if whole else u.end_s, 3),
            "text": "\n".join(f"[{i.utterance.role.value}] {i.utterance.text}" for i in seg.items[:40]) if whole else u.text,
            **({} if whole else {"role": u.role.value}),
        }
        out.append(dict(
            common,
            dedupe_key=f"deduction:u{utterance_ids[anchor.seq]}:{line.rule_id}",
            kind=FlagKind.SITUATIONAL,
            severity="minor",
            penalised=True,
            raised_at=(when if whole else u.started_at) or when,
            summary=line.reason,
            evidence=evidence,
            utterance_id=utterance_ids[anchor.seq],
        ))
    return out


def situation_flags(recording: Recording, score: InteractionScore, common: dict, utterance_ids: dict[int, int], when: datetime) -> list[dict]:
    # A detected 七.1 situation whose phrase staff did not say: a flag naming the phrase to use.
    out = []
    for finding in score.situations:
        if finding.said is not None:
            continue
        rule, at = finding.rule, finding.anchor
        uid = utterance_ids[at.seq]
        line = next((ln for ln in score.lines if ln.rule_id == rule.id and ln.utterance_seq == at.seq and ln.points < 0), None)
        out.append(dict(
            common,
            dedupe_key=f"situation_phrase:u{uid}:{rule.id}",
            kind=FlagKind.SITUATION_PHRASE,
            severity=(line.severity if line and line.severity else "minor"),
            penalised=True,
            raised_at=at.utterance.started_at or when,
            summary=f"{rule.id}: {rule.situation}，应说：{rule.canonical}",
            evidence={
                **evidence_of(recording, at),
                "rule_id": rule.id,
                "situation": rule.situation,
                "phrase": rule.canonical,
                "evidence": finding.evidence,
                "cues": finding.cue_texts[:10],
                "silence_s": finding.silence_s,
            },
            utterance_id=uid,
        ))
    return out


def provoked_by(seg: Segment, item: MatchedUtterance, hit: RuleHit, retort_rule: str | None, utterance_ids: dict[int, int]) -> dict:
    # 二.7: a staff retort is stored with the citizen abuse before it (its utterance and flag).
    if hit.rule_id != retort_rule:
        return {}
    abuse = provoking_abuse(seg.items, item)
    if abuse is None:
        return {"provoked_by": None}
    uid = utterance_ids[abuse.seq]
    return {"provoked_by": {"utterance_id": uid, "flag_key": f"citizen_abuse:u{uid}", "text": abuse.utterance.text,
                            "start_s": round(abuse.utterance.start_s, 3)}}


def finding_flags(recording: Recording, score: InteractionScore, common: dict, utterance_ids: dict[int, int], when: datetime) -> list[dict]:
    # Conduct findings that cost points (a telephone phrase not said, a personal call) as flags.
    out = []
    for f in score.findings:
        if not f.flagged:
            continue
        uid = utterance_ids[f.anchor.seq]
        kind = FlagKind.PERSONAL_CALL if f.kind == PERSONAL_CALL else FlagKind.TELEPHONE
        out.append(
            dict(
                common,
                dedupe_key=f"{kind.value}:u{uid}:{f.rule_id}",
                kind=kind,
                severity=f.severity or "minor",
                penalised=True,
                raised_at=f.anchor.utterance.started_at or when,
                summary=f.reason,
                evidence=evidence_of(recording, f.anchor) | {"rule_id": f.rule_id, **f.evidence},
                utterance_id=uid,
            )
        )
    return out



def interaction_flags(
    recording: Recording,
    seg: Segment,
    score: InteractionScore,
    staff_id: int | None,
    interaction_id: int,
    utterance_ids: dict[int, int],
    retort_rule: str | None = None,
) -> list[dict]:
    """Every flag row one scored interaction calls for (forbidden, findings, abuse, situations, courtesy, deductions)."""
    rows: list[dict] = []
    when = seg.started_at or recording.started_at or datetime.now().replace(microsecond=0)
    common = {"window_id": recording.window_id, "staff_id": staff_id, "interaction_id": interaction_id, "recording_id": recording.id}
    for item, hit in score.forbidden:
        uid = utterance_ids[item.seq]
        rule_line = next((line for line in score.lines if line.rule_id == hit.rule_id and line.utterance_seq == item.seq), None)
        rows.append(
            dict(
                common,
                dedupe_key=f"forbidden:u{uid}:{hit.rule_id}",
                kind=FlagKind.FORBIDDEN,
                severity=rule_line.severity if rule_line and rule_line.severity else "major",
                penalised=True,
                raised_at=item.utterance.started_at or when,
                summary=f"{hit.rule_id}: {item.utterance.text}",
                evidence=evidence_of(recording, item, hit) | provoked_by(seg, item, hit, retort_rule, utterance_ids),
                utterance_id=uid,
            )
        )
    rows.extend(finding_flags(recording, score, common, utterance_ids, when))
    for item, hit in score.abuse:
        uid = utterance_ids[item.seq]
        rows.append(
            dict(
                common,
                dedupe_key=f"citizen_abuse:u{uid}",
                kind=FlagKind.CITIZEN_ABUSE,
                severity="minor",
                penalised=False,
                raised_at=item.utterance.started_at or when,
                summary=f"citizen abuse (recorded, staff not penalised): {item.utterance.text}",
                evidence=evidence_of(recording, item, hit),
                utterance_id=uid,
            )
        )
    rows.extend(situation_flags(recording, score, common, utterance_ids, when))
    if score.served and not (score.has_greeting and score.has_farewell):
        missing = [name for name, ok in (("greeting", score.has_greeting), ("farewell", score.has_farewell)) if not ok]
        first = seg.items[0]
        rows.append(
            dict(
                common,
                dedupe_key=f"missing_courtesy:u{utterance_ids[first.seq]}",
                kind=FlagKind.MISSING_COURTESY,
                severity="minor",
                penalised=True,
                raised_at=when,
                summary="interaction without " + " and ".join(missing),
                evidence={
                    "recording": recording.path,
                    "start_s": round(seg.start_s, 3),
                    "end_s": round(seg.end_s, 3),
                    "missing": missing,
                    "text": "\n".join(f"[{i.utterance.role.value}] {i.utterance.text}" for i in seg.items[:40]),
                },
                utterance_id=utterance_ids[first.seq],
            )
        )
    rows += deduction_flags(recording, seg, score, common, utterance_ids, when)
    return rows


__all__ = ["deduction_flags", "evidence_of", "finding_flags", "interaction_flags", "provoked_by", "situation_flags"]
