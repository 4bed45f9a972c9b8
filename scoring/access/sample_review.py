"""An inspector's review of a whole sampled interaction: each system hit correct or wrong, and what was missed.

A missed forbidden phrase (the rule and the line or time span where staff said it) becomes a
confirmed forbidden flag at once, so the staff member sees it and can appeal it like any other;
its dedupe key starts with :data:`scoring.access.sampling.REVIEW_FLAG_PREFIX`. A required
greeting or farewell that was really missing (``missing``) where the system heard it becomes a
confirmed missing-courtesy flag taking the rulebook's points for it, the same way. Both kinds
are recorded for the estimates and retraining. Every review is audited. Staff never see reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, FlagStatus, Interaction, Recording, Review, ReviewDecision, ReviewKind, RuleHitRow, Utterance
from models.domain import Role, RuleFamily
from models.review_db import SampledInteractionRow, SampleHitMarkRow, SampleMissRow, SampleReviewRow
from models.rulebook import Rulebook
from scoring.access.policy import DECIDE, DEFAULT_POLICY, AccessDenied, AccessPolicy, NotFound, redact, require
from scoring.access.reviews import close_flag
from scoring.access.sampling import REVIEW_FLAG_PREFIX, SAMPLERS
from scoring.accounts import Actor, audit
from scoring.score import forbidden_points, missing_required_points, points_deducted
from scoring.store.flags import raise_flag

MISS_KINDS = ("said", "missing")


@dataclass(frozen=True)
class MissSpec:
    """What the system missed: ``rule_id`` said at line ``utterance_seq`` (or ``start_s``..``end_s``), or really missing."""

    rule_id: str
    kind: str = "said"
    utterance_seq: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    note: str = ""


@dataclass(frozen=True)
class ReviewLine:
    seq: int
    start_s: float
    end_s: float
    role: str
    text: str


@dataclass(frozen=True)
class ReviewHit:
    hit_id: int
    rule_id: str
    family: str
    utterance_seq: int
    text: str


@dataclass(frozen=True)
class SampledInteraction:
    """A sampled interaction as the reviewer sees it: every line, every system hit, the review if done."""

    sampled_id: int
    interaction_id: int
    lines: list[ReviewLine]
    hits: list[ReviewHit]
    reviewed: bool


@dataclass(frozen=True)
class ReviewResult:
    review_id: int
    correct: int
    wrong: int
    misses: int
    flag_ids: tuple[int, ...]


def _item(session: Session, actor: Actor, sampled_id: int) -> tuple[SampledInteractionRow, Interaction]:
    require(actor, SAMPLERS, "see sampled reviews")
    item = session.get(SampledInteractionRow, sampled_id)
    if item is None or item.interaction_id is None:
        raise NotFound(f"no sampled interaction {sampled_id} (or its interaction was rebuilt)")
    return item, session.get(Interaction, item.interaction_id)


# Reviewers mark phrase hits; the cues of 七.1 situations are evidence for a situation flag, not phrases.
_PHRASE_HIT = RuleHitRow.family != RuleFamily.SITUATION


def sampled_interaction(session: Session, actor: Actor, sampled_id: int, *, policy: AccessPolicy = DEFAULT_POLICY) -> SampledInteraction:
    """The whole transcript and the system's hits of a sampled interaction (inspectors and managers)."""
    item, interaction = _item(session, actor, sampled_id)
    lines = [ReviewLine(u.seq, u.start_s, u.end_s, u.role.value, redact(actor, u.text, policy) or "") for u in interaction.utterances]
    hits = [
        ReviewHit(h.id, h.rule_id, h.family.value, u.seq, redact(actor, u.text, policy) or "")
        for h, u in session.execute(select(RuleHitRow, Utterance).join(Utterance, Utterance.id == RuleHitRow.utterance_id)
                                    .where(RuleHitRow.interaction_id == interaction.id, _PHRASE_HIT).order_by(Utterance.seq, RuleHitRow.id))
    ]
    return SampledInteraction(item.id, interaction.id, lines, hits, item.review is not None)


def _miss_utterance(interaction: Interaction, miss: MissSpec) -> Utterance | None:
    if miss.utterance_seq is not None:
        found = next((u for u in interaction.utterances if u.seq == miss.utterance_seq), None)
        if found is None:
            raise ValueError(f"interaction {interaction.id} has no line {miss.utterance_seq}")
        return found
    if miss.start_s is None:
        raise ValueError(f"missed {miss.rule_id}: give the line or the time span")
    # the staff line that overlaps the span, for the flag's link and evidence
    end_s = miss.end_s if miss.end_s is not None else miss.start_s
    return next((u for u in interaction.utterances if u.role is Role.STAFF and u.start_s <= end_s and u.end_s >= miss.start_s), None)


def _raise_missed_forbidden(session: Session, actor: Actor, review: SampleReviewRow, interaction: Interaction,
                            miss: SampleMissRow, utterance: Utterance | None, rulebook: Rulebook, now: datetime) -> int:
    """The confirmed flag of a missed forbidden phrase, with an inspection review saying who found it."""
    rule = rulebook.by_id[miss.rule_id]
    points = forbidden_points(rule, rulebook)
    recording = session.get(Recording, interaction.recording_id)
    where = f"u{utterance.id}" if utterance is not None else f"i{interaction.id}@{miss.start_s}"
    start_s = utterance.start_s if utterance is not None else miss.start_s
    end_s = utterance.end_s if utterance is not None else (miss.end_s if miss.end_s is not None else miss.start_s)
    text = utterance.text if utterance is not None else ""
    raised_at = (utterance.started_at if utterance is not None else None) or (
        interaction.started_at + timedelta(seconds=max(0.0, (start_s or 0.0) - interaction.start_s)) if interaction.started_at else now)
    flag, created = raise_flag(
        session, f"{REVIEW_FLAG_PREFIX}{where}:{miss.rule_id}", FlagKind.FORBIDDEN, raised_at=raised_at,
        summary=f"{miss.rule_id}: {text or miss.note}", severity=rule.severity.value if rule.severity is not None else "major",
        evidence={"rule_id": miss.rule_id, "text": text, "start_s": start_s, "end_s": end_s, "recording": recording.path if recording else None,
                  "source": "sample_review", "sample_review_id": review.id, "note": miss.note, "review_points": points},
        window_id=interaction.window_id, staff_id=interaction.staff_id, interaction_id=interaction.id,
        utterance_id=utterance.id if utterance is not None else None, recording_id=interaction.recording_id,
    )
    return _confirm_taking_points(session, actor, flag, created, interaction, miss, points, now)


def _confirm_taking_points(session: Session, actor: Actor, flag: Flag, created: bool, interaction: Interaction, miss: SampleMissRow,
                           points: float, now: datetime) -> int:
    """Confirm a flag a review raised and take its points by an adjustment (the scorer never took them)."""
    session.flush()
    if not created:  # another draw's review found the same miss: one flag, its points taken once
        return flag.id
    flag.status = FlagStatus.CONFIRMED
    session.add(Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=interaction.id, reviewer_id=actor.user_id,
                       decision=ReviewDecision.CONFIRM, comment=f"抽检发现漏检 {miss.note}"[:2000], decided_at=now))
    # an appeal that succeeds gives them back (scoring.access.reviews.score_restore reads review_points)
    session.add(Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=interaction.id, reviewer_id=actor.user_id,
                       decision=ReviewDecision.ADJUST, score_adjustment=-points, comment=f"抽检漏检扣分：{miss.rule_id}", decided_at=now))
    return flag.id


def _raise_really_missing(session: Session, actor: Actor, review: SampleReviewRow, interaction: Interaction,
                          miss: SampleMissRow, rulebook: Rulebook, now: datetime) -> int | None:
    """The confirmed missing-courtesy flag of a required greeting or farewell the system heard but staff never said.

    None where the rulebook takes no points for it: not a required courtesy rule, nobody served,
    or the scorer already found it missing (its own flag stands for those points).
    """
    rule = rulebook.by_id[miss.rule_id]
    lines = sorted(interaction.utterances, key=lambda u: u.seq)
    if rule.family is not RuleFamily.COURTESY or rule.required is None or not interaction.served or not lines:
        return None
    if points_deducted(interaction.explanation or [], {rule.id}, None):
        return None
    points = missing_required_points(rule, rulebook)
    first = lines[0]  # the key and the link follow the interaction's first line through rebuilds
    recording = session.get(Recording, interaction.recording_id)
    word = "greeting" if rule.required == "start" else "farewell"
    flag, created = raise_flag(
        session, f"{REVIEW_FLAG_PREFIX}missing:u{first.id}:{rule.id}", FlagKind.MISSING_COURTESY,
        raised_at=interaction.started_at or now, summary=f"interaction without {word}", severity="minor",
        evidence={"rule_id": rule.id, "missing": [word], "start_s": interaction.start_s, "end_s": interaction.end_s,
                  "recording": recording.path if recording else None, "source": "sample_review", "sample_review_id": review.id,
                  "note": miss.note, "review_points": points},
        window_id=interaction.window_id, staff_id=interaction.staff_id, interaction_id=interaction.id,
        utterance_id=first.id, recording_id=interaction.recording_id,
    )
    return _confirm_taking_points(session, actor, flag, created, interaction, miss, points, now)


def _settle_hit_flags(session: Session, actor: Actor, interaction: Interaction, marks: dict[int, bool], hits: dict[int, RuleHitRow],
                      now: datetime) -> list[int]:
    """The flags of the marked hits follow the marks: a wrong hit's flag is dismissed (its points given back), a correct one's confirmed."""
    changed = []
    for hit_id, correct in sorted(marks.items()):
        hit = hits[hit_id]
        flag = session.scalar(select(Flag).where(Flag.dedupe_key == f"forbidden:u{hit.utterance_id}:{hit.rule_id}"))
        want = FlagStatus.CONFIRMED if correct else FlagStatus.DISMISSED
        if flag is None or flag.status is want or (correct and flag.status is not FlagStatus.OPEN):
            continue  # a dismissed flag stays dismissed when the hit is marked correct: that was an inspector's decision
        note = f"抽检复核：{'命中正确' if correct else '误报'}"
        session.add(Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=interaction.id, reviewer_id=actor.user_id,
                           decision=ReviewDecision.CONFIRM if correct else ReviewDecision.DISMISS, comment=note, decided_at=now))
        close_flag(session, actor, flag, want, note)
        changed.append(flag.id)
    return changed


def record_review(session: Session, actor: Actor, sampled_id: int, marks: dict[int, bool], misses: list[MissSpec],
                  rulebook: Rulebook, *, comment: str = "") -> ReviewResult:
    """Record an inspector's review of a whole sampled interaction (audited).

    Args:
        marks: rule-hit id -> correct; every system hit of the interaction must be marked.
        misses: what the system missed; a forbidden phrase ``said`` raises a confirmed flag.

    Raises:
        AccessDenied: not an inspector, or an interaction assigned to another inspector.
        NotFound: no such sampled interaction.
        ValueError: already reviewed, a hit left unmarked or not of this interaction, an unknown
            rule, a bad miss kind or line.
    """
    require(actor, DECIDE, "review sampled interactions")
    item, interaction = _item(session, actor, sampled_id)
    if item.assigned_to is not None and item.assigned_to != actor.user_id:
        raise AccessDenied(f"{actor.username}: sampled interaction {sampled_id} is assigned to another inspector")
    if item.review is not None:
        raise ValueError(f"sampled interaction {sampled_id} is already reviewed")
    hits = {h.id: h for h in session.scalars(select(RuleHitRow).where(RuleHitRow.interaction_id == interaction.id, _PHRASE_HIT))}
    if set(marks) != set(hits):
        raise ValueError(f"mark every hit of interaction {interaction.id}: expected {sorted(hits)}, got {sorted(marks)}")
    for miss in misses:
        if miss.rule_id not in rulebook.by_id or miss.kind not in MISS_KINDS:
            raise ValueError(f"missed {miss.rule_id!r} ({miss.kind!r}): unknown rule or kind (one of {MISS_KINDS})")
        if miss.kind == "missing" and rulebook.by_id[miss.rule_id].family is RuleFamily.FORBIDDEN:
            raise ValueError(f"missed {miss.rule_id}: a forbidden phrase is missed when said, never when missing")
        if miss.start_s is not None and miss.end_s is not None and miss.end_s < miss.start_s:
            raise ValueError(f"missed {miss.rule_id}: the time span ends ({miss.end_s} s) before it starts ({miss.start_s} s)")
    now = datetime.now().replace(microsecond=0)
    review = SampleReviewRow(sampled_id=item.id, reviewer_id=actor.user_id, reviewed_at=now, comment=comment.strip()[:2000])
    session.add(review)
    session.flush()
    for hit_id, correct in sorted(marks.items()):
        hit = hits[hit_id]
        session.add(SampleHitMarkRow(review_id=review.id, rule_hit_id=hit.id, rule_id=hit.rule_id, family=hit.family.value, correct=bool(correct)))
    settled = _settle_hit_flags(session, actor, interaction, marks, hits, now)
    flag_ids = []
    for spec in misses:
        rule = rulebook.by_id[spec.rule_id]
        utterance = _miss_utterance(interaction, spec) if spec.kind == "said" else None
        row = SampleMissRow(review_id=review.id, rule_id=spec.rule_id, family=rule.family.value, kind=spec.kind,
                            utterance_id=utterance.id if utterance is not None else None, start_s=spec.start_s, end_s=spec.end_s,
                            note=spec.note.strip()[:2000])
        session.add(row)
        session.flush()
        if spec.kind == "said" and rule.family is RuleFamily.FORBIDDEN:
            row.flag_id = _raise_missed_forbidden(session, actor, review, interaction, row, utterance, rulebook, now)
        elif spec.kind == "missing":
            row.flag_id = _raise_really_missing(session, actor, review, interaction, row, rulebook, now)
        if row.flag_id is not None:
            flag_ids.append(row.flag_id)
    session.flush()
    correct = sum(1 for v in marks.values() if v)
    audit(session, actor.username, "sample_review", "sampled_interaction", item.id, interaction=interaction.id, correct=correct,
          wrong=len(marks) - correct, wrong_hits=sorted(h for h, v in marks.items() if not v),
          misses=[{"rule_id": m.rule_id, "kind": m.kind, "line": m.utterance_seq, "start_s": m.start_s, "end_s": m.end_s} for m in misses],
          flags=flag_ids, settled_flags=settled)
    return ReviewResult(review.id, correct, len(marks) - correct, len(misses), tuple(flag_ids))
