"""What an inspector who knows the ground truth would say about each stored interaction of a demo.

For every stored interaction: each system hit correct or wrong, and each rule a staff line
really said that the system did not find there (a miss, at the stored line that heard it, or
at the line's time span when no stored line did). The same judgement drives the demo's
simulated inspector (``windowqa demo --review``) and the true values the field estimates are
compared with (``windowqa eval demo``): the estimand is exactly what a review of every
interaction would count.

Matching follows :mod:`windowqa.demo.evaluate`: a hit on a stored staff utterance is correct
when a true staff line overlapping it (> 0.05 s) must or may produce the rule; a citizen-abuse
hit is correct on a true citizen's insult.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from models.domain import Role, RuleFamily

ABUSE_RULE = "citizen.abuse"
_MIN_OVERLAP_S = 0.05


@dataclass(frozen=True)
class JudgedHit:
    hit_id: int
    rule_id: str
    family: str
    correct: bool


@dataclass(frozen=True)
class JudgedMiss:
    rule_id: str
    family: str
    utterance_seq: int | None  # the stored line that heard it, when it belongs to the interaction
    start_s: float
    end_s: float
    text: str  # what was really said (the ground truth)


@dataclass
class Judgement:
    interaction_id: int
    hits: list[JudgedHit] = field(default_factory=list)
    misses: list[JudgedMiss] = field(default_factory=list)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _stored(session, truth):
    from models.db import Interaction, Recording, RuleHitRow, Utterance

    recordings = {Path(path).name: rid for rid, path in session.execute(select(Recording.id, Recording.path))}
    rec_of_truth = {r.id: recordings.get(Path(r.path).name) for r in truth.recordings}
    utterances = defaultdict(list)
    for u in session.scalars(select(Utterance)):
        utterances[u.recording_id].append(u)
    hits = defaultdict(list)
    for h in session.scalars(select(RuleHitRow).order_by(RuleHitRow.id)):
        hits[h.utterance_id].append(h)
    interactions = defaultdict(list)
    for i in session.scalars(select(Interaction)):
        interactions[i.recording_id].append(i)
    return rec_of_truth, utterances, hits, interactions


def _owner_interaction(tu, stored_utts, stored_interactions):
    """The stored interaction a true line belongs to: that of the stored line hearing it most, else the one overlapping it most."""
    best = max(stored_utts, key=lambda su: _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s), default=None)
    if best is not None and best.interaction_id is not None and _overlap(best.start_s, best.end_s, tu.start_s, tu.end_s) > _MIN_OVERLAP_S:
        return best.interaction_id
    inter = max(stored_interactions, key=lambda i: _overlap(i.start_s, i.end_s, tu.start_s, tu.end_s), default=None)
    if inter is not None and _overlap(inter.start_s, inter.end_s, tu.start_s, tu.end_s) > 0:
        return inter.id
    return None


def judge_interactions(session, truth) -> dict[int, Judgement]:
    """{stored interaction id: its judgement} for every stored interaction of the demo."""
    rec_of_truth, utterances, hits, interactions = _stored(session, truth)
    by_rec = defaultdict(list)
    for tu in truth.utterances:
        by_rec[tu.recording].append(tu)
    out = {i.id: Judgement(i.id) for lst in interactions.values() for i in lst}
    for rec_id, tus in by_rec.items():
        sid = rec_of_truth.get(rec_id)
        stored = utterances.get(sid, [])
        for su in stored:
            over = [tu for tu in tus if _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s) > _MIN_OVERLAP_S]
            allowed = {r for tu in over if tu.speaker is Role.STAFF for r in (*tu.rule_ids, *tu.optional_rule_ids)}
            for h in hits.get(su.id, ()):
                if h.family is RuleFamily.SITUATION:  # a 七.1 cue, not a phrase hit: a review marks phrase hits only
                    continue
                ok = any(tu.citizen_abuse for tu in over) if h.rule_id == ABUSE_RULE else h.rule_id in allowed
                if h.interaction_id is not None:  # the review marks the hits of its interaction
                    out[h.interaction_id].hits.append(JudgedHit(h.id, h.rule_id, h.family.value, ok))
        for tu in tus:
            if tu.speaker is not Role.STAFF or not tu.rule_ids:
                continue
            hearing = [su for su in stored if _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s) > _MIN_OVERLAP_S]
            got = {h.rule_id for su in hearing for h in hits.get(su.id, ())}
            owner = _owner_interaction(tu, hearing, interactions.get(sid, []))
            if owner is None:
                continue  # no stored interaction to review it in
            in_owner = [su for su in hearing if su.interaction_id == owner]
            line = max(in_owner, key=lambda su: _overlap(su.start_s, su.end_s, tu.start_s, tu.end_s), default=None)
            for rule in tu.rule_ids:
                if rule not in got:
                    out[owner].misses.append(JudgedMiss(rule, rule.split(".", 1)[0], line.seq if line is not None else None,
                                                        tu.start_s, tu.end_s, tu.text))
    return out


__all__ = ["ABUSE_RULE", "JudgedHit", "JudgedMiss", "Judgement", "judge_interactions"]
