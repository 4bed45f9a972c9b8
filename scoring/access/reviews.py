"""Reviews: an inspector's decision on a flag, the points a dismissal gives back, reviewed examples."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, FlagStatus, Interaction, Review, ReviewDecision, ReviewKind, Utterance
from models.domain import RuleFamily
from models.privacy import redact_pii
from models.rulebook import Rulebook
from scoring.access.flags import visible_flag
from scoring.access.policy import ADMIN, DECIDE, Decision, require
from scoring.accounts import Actor, audit
from scoring.score import REQUIRED_COURTESY_IDS, points_deducted


def score_restore(session: Session, flag: Flag) -> float:
    """Points the flag cost its interaction's score (restored when it is dismissed)."""
    if not flag.penalised or flag.interaction_id is None:
        return 0.0
    interaction = session.get(Interaction, flag.interaction_id)
    if interaction is None:
        return 0.0
    ev = flag.evidence or {}
    if ev.get("review_points"):  # raised by a review: its points were taken by an adjustment, not by the scorer
        return float(ev["review_points"])
    if flag.kind is FlagKind.SITUATIONAL:
        return points_deducted(interaction.explanation or [], {ev.get("rule_id")}, ev.get("line_seq"))
    if flag.kind in (FlagKind.FORBIDDEN, FlagKind.SITUATION_PHRASE):
        seq = session.scalar(select(Utterance.seq).where(Utterance.id == flag.utterance_id)) if flag.utterance_id else None
        return points_deducted(interaction.explanation or [], {ev.get("original_rule_id", ev.get("rule_id"))}, seq)
    if flag.kind is FlagKind.MISSING_COURTESY:
        return points_deducted(interaction.explanation or [], REQUIRED_COURTESY_IDS, None)
    if flag.kind in (FlagKind.TELEPHONE, FlagKind.PERSONAL_CALL):  # scoring.conduct: a line at the call's opening
        seq = session.scalar(select(Utterance.seq).where(Utterance.id == flag.utterance_id)) if flag.utterance_id else None
        return points_deducted(interaction.explanation or [], {ev.get("rule_id")}, seq)
    if flag.kind is FlagKind.REPEAT_VISIT:  # the first visit's line about this return (its ref is the flag's key)
        return sum(-float(line.get("points") or 0.0) for line in interaction.explanation or []
                   if line.get("ref") == flag.dedupe_key and float(line.get("points") or 0.0) < 0)
    return 0.0


def close_flag(session: Session, actor: Actor, flag: Flag, status: FlagStatus, note: str) -> None:
    """Set a flag's status; dismissing a penalised flag gives its interaction its points back."""
    was = flag.status
    flag.status = status
    if status is FlagStatus.DISMISSED and was is not FlagStatus.DISMISSED:
        points = score_restore(session, flag)
        if points:
            session.add(
                Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                       decision=ReviewDecision.ADJUST, score_adjustment=points, comment=f"flag {flag.id} dismissed: {note}"[:2000],
                       decided_at=datetime.now().replace(microsecond=0))
            )
    elif status is FlagStatus.CONFIRMED and was is FlagStatus.DISMISSED:
        # undo an earlier restore (a flag raised by a review took its points by an adjustment: that one is no restore)
        restored = (session.scalar(
            select(func.sum(Review.score_adjustment)).where(Review.flag_id == flag.id, Review.decision == ReviewDecision.ADJUST)
        ) or 0.0) + float((flag.evidence or {}).get("review_points") or 0.0)
        if restored:
            session.add(
                Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                       decision=ReviewDecision.ADJUST, score_adjustment=-restored, comment=f"flag {flag.id} confirmed again",
                       decided_at=datetime.now().replace(microsecond=0))
            )


def decide_flag(session: Session, actor: Actor, flag_id: int, decision: Decision, *, reason: str = "",
                rule_id: str | None = None, rulebook: Rulebook | None = None) -> Review:
    """An inspector's decision on a flag: confirm, dismiss as a false alarm, or change its rule.

    The decision is a ``Review`` row (``kind = inspection``; a changed rule in ``rule_id``) and an
    audit log line; :func:`labelled_examples` turns decisions into training lines. Dismissing a
    penalised flag restores its points through an ``adjust`` review (reports add adjustments).
    Changing the rule to a forbidden rule keeps the flag confirmed under the new rule; changing it
    to a courtesy or telephone rule means the utterance broke no rule, so the flag is dismissed.

    Raises:
        AccessDenied: the actor is not an inspector.
        NotFound: no such flag.
        ValueError: a dismissal without reason, an unknown rule.
    """
    require(actor, DECIDE, "decide flags")
    flag = visible_flag(session, actor, flag_id)
    reason = reason.strip()
    now = datetime.now().replace(microsecond=0)
    ev = dict(flag.evidence or {})
    if decision == "confirm":
        review = Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                        decision=ReviewDecision.CONFIRM, comment=reason, decided_at=now)
        close_flag(session, actor, flag, FlagStatus.CONFIRMED, reason)
    elif decision == "dismiss":
        if not reason:
            raise ValueError("dismissing a flag as a false alarm needs a reason")
        review = Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                        decision=ReviewDecision.DISMISS, comment=reason, decided_at=now)
        close_flag(session, actor, flag, FlagStatus.DISMISSED, reason)
    elif decision == "change_rule":
        if rulebook is None or not rule_id or rule_id not in rulebook.by_id:
            raise ValueError(f"unknown rule {rule_id!r}")
        if flag.kind is not FlagKind.FORBIDDEN:
            raise ValueError("only a phrase flag (forbidden) can change its rule")
        new_rule = rulebook.by_id[rule_id]
        still_forbidden = new_rule.family is RuleFamily.FORBIDDEN
        review = Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                        decision=ReviewDecision.CONFIRM if still_forbidden else ReviewDecision.DISMISS, rule_id=rule_id,
                        comment=reason, decided_at=now)
        close_flag(session, actor, flag, FlagStatus.CONFIRMED if still_forbidden else FlagStatus.DISMISSED, reason or f"rule changed to {rule_id}")
        ev.setdefault("original_rule_id", ev.get("rule_id"))
        ev["rule_id"] = rule_id
        flag.evidence = ev  # a new dict, so the JSON column is written
        if still_forbidden:
            flag.severity = new_rule.severity.value if new_rule.severity else flag.severity
    else:
        raise ValueError(f"unknown decision {decision!r}: confirm, dismiss or change_rule")
    session.add(review)
    session.flush()
    audit(session, actor.username, "review.decide", "flag", flag.id, decision=decision, reason=reason, rule_id=rule_id, review_id=review.id)
    return review


class ReviewedExample(NamedTuple):
    """A reviewed utterance (redacted) and the label the reviewer settled on (a rule id, or ``"none"``)."""

    text: str
    label: str


def labelled_examples(session: Session, actor: Actor) -> list[ReviewedExample]:
    """Reviewed phrase flags as (text, label) training lines for the matcher's classifier.

    The label is the rule the reviewer settled on (the flagged rule when confirmed, the new rule
    when changed), or ``"none"`` when the flag was dismissed as a false alarm; the latest decision
    on a flag wins. Texts are redacted: personal numbers never reach a model file.
    ``windowqa nlp retrain`` passes these as extra lines to the classifier's training (as the
    system's admin actor).

    Raises:
        AccessDenied: the actor is neither an inspector nor an admin.
    """
    require(actor, DECIDE | ADMIN, "read reviewed examples")
    rows = session.execute(
        select(Flag.id, Flag.evidence, Utterance.text, Review.decision, Review.rule_id, Review.id)
        .join(Review, Review.flag_id == Flag.id)
        .join(Utterance, Utterance.id == Flag.utterance_id)
        .where(
            Flag.kind == FlagKind.FORBIDDEN,
            Review.decision.in_([ReviewDecision.CONFIRM, ReviewDecision.DISMISS]),
        )
        .order_by(Flag.id, Review.id)
    ).all()
    latest: dict[int, ReviewedExample] = {}
    for fid, evidence, text, decision, rule_id, _rid in rows:
        ev = evidence or {}
        if rule_id:
            label = rule_id
        elif decision is ReviewDecision.DISMISS:
            label = "none"
        else:
            label = ev.get("rule_id") or "none"
        latest[fid] = ReviewedExample(redact_pii(text).text, label)
    return list(latest.values())

