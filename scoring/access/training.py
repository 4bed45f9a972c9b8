"""What the inspectors' reviews teach the phrase classifier: reviewed staff utterances, redacted.

Two sources:

* **sampled reviews** (抽检, :mod:`scoring.access.sample_review`): every system hit marked correct
  or wrong, and the phrases the reviewer recorded as said but missed (the only source of
  missed hits: the flag queue shows only what the system found);
* **flag reviews** (:mod:`scoring.access.reviews`): forbidden flags confirmed, dismissed or changed
  to another rule; flags raised by a sampled review itself are left out (the review row holds them).

Each utterance becomes one :class:`ReviewedUtterance`: the rules the reviewer says were said
(confirmed hits, recorded misses, a flag's settled rule) and the rules the system claimed that
were not. ``key`` groups the utterances of one review, so a held-back part of the reviews
never shares a review with the training part. Texts are redacted (:func:`models.privacy.redact_pii`):
personal numbers never reach a model file. Inspectors and admins only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, Review, ReviewDecision, RuleHitRow, Utterance
from models.domain import Role
from models.privacy import redact_pii
from models.review_db import SampleHitMarkRow, SampleMissRow, SampleReviewRow
from scoring.access.policy import ADMIN, DECIDE, require
from scoring.access.sampling import REVIEW_FLAG_PREFIX
from scoring.accounts import Actor


@dataclass(frozen=True)
class ReviewedUtterance:
    """One reviewed staff utterance (redacted) with what the reviewer settled on."""

    key: str  # "sample:<review id>" or "flag:<flag id>": the unit a hold-out splits on
    utterance_id: int
    text: str
    said: frozenset[str]  # rule ids really said: hits marked correct, misses recorded
    not_said: frozenset[str]  # rule ids the system claimed and the reviewer rejected

    def training_lines(self) -> list[tuple[str, str]]:
        """(text, label) lines: one per rule said; ``none`` when the utterance only had false alarms."""
        if self.said:
            return [(self.text, rule) for rule in sorted(self.said)]
        return [(self.text, "none")] if self.not_said else []


def _sampled(session: Session) -> dict[int, tuple[str, set, set]]:
    """{utterance id: (key, said, not_said)} from the sampled reviews."""
    out: dict[int, tuple[str, set, set]] = {}

    def entry(uid: int, review_id: int):
        return out.setdefault(uid, (f"sample:{review_id}", set(), set()))

    marks = session.execute(
        select(SampleHitMarkRow.review_id, SampleHitMarkRow.rule_id, SampleHitMarkRow.correct, RuleHitRow.utterance_id)
        .join(RuleHitRow, RuleHitRow.id == SampleHitMarkRow.rule_hit_id)
    )
    for review_id, rule_id, correct, uid in marks:
        (entry(uid, review_id)[1] if correct else entry(uid, review_id)[2]).add(rule_id)
    misses = session.execute(
        select(SampleMissRow.review_id, SampleMissRow.rule_id, SampleMissRow.utterance_id)
        .where(SampleMissRow.kind == "said", SampleMissRow.utterance_id.is_not(None))
    )
    for review_id, rule_id, uid in misses:
        entry(uid, review_id)[1].add(rule_id)
    return out


def _flag_reviews(session: Session) -> dict[int, tuple[str, set, set]]:
    """{utterance id: (key, said, not_said)} from decided forbidden flags (the latest decision wins)."""
    rows = session.execute(
        select(Flag.id, Flag.utterance_id, Flag.evidence, Review.decision, Review.rule_id)
        .join(Review, Review.flag_id == Flag.id)
        .where(
            Flag.kind == FlagKind.FORBIDDEN,
            Flag.utterance_id.is_not(None),
            Flag.dedupe_key.not_like(REVIEW_FLAG_PREFIX + "%"),
            Review.decision.in_([ReviewDecision.CONFIRM, ReviewDecision.DISMISS]),
        )
        .order_by(Flag.id, Review.id)
    ).all()
    latest: dict[int, tuple[int, str | None, str | None]] = {}
    for fid, uid, evidence, decision, new_rule in rows:
        flagged = (evidence or {}).get("rule_id")
        if new_rule:  # changed to another rule: that one was said, the flagged one not
            latest[fid] = (uid, new_rule, flagged if flagged != new_rule else None)
        elif decision is ReviewDecision.DISMISS:
            latest[fid] = (uid, None, flagged)
        else:
            latest[fid] = (uid, flagged, None)
    out: dict[int, tuple[str, set, set]] = {}
    for fid, (uid, said, not_said) in latest.items():
        key, s, n = out.setdefault(uid, (f"flag:{fid}", set(), set()))
        if said:
            s.add(said)
        if not_said:
            n.add(not_said)
    return out


def reviewed_utterances(session: Session, actor: Actor) -> list[ReviewedUtterance]:
    """Every reviewed staff utterance, redacted, in utterance order (inspectors and admins).

    A sampled review of an utterance outranks a flag decision on it (it saw the whole interaction).

    Raises:
        AccessDenied: the actor is neither an inspector nor an admin.
    """
    require(actor, DECIDE | ADMIN, "read reviewed examples")
    merged = {**_flag_reviews(session), **_sampled(session)}
    if not merged:
        return []
    texts = {uid: (text, role) for uid, text, role in session.execute(
        select(Utterance.id, Utterance.text, Utterance.role).where(Utterance.id.in_(list(merged))))}
    out = []
    for uid in sorted(merged):
        key, said, not_said = merged[uid]
        text, role = texts.get(uid, ("", None))
        if not text.strip() or role is Role.CITIZEN:
            continue  # the classifier learns what staff say
        out.append(ReviewedUtterance(key, uid, redact_pii(text).text, frozenset(said), frozenset(not_said - said)))
    return out


def review_keys(lines: list[ReviewedUtterance]) -> dict[str, list[ReviewedUtterance]]:
    groups: dict[str, list[ReviewedUtterance]] = defaultdict(list)
    for line in lines:
        groups[line.key].append(line)
    return dict(groups)


__all__ = ["ReviewedUtterance", "review_keys", "reviewed_utterances"]
