"""Appeals (申诉): a staff member contests a flag once; an inspector's ruling is final."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Flag, FlagStatus, Review, ReviewDecision, ReviewKind, Staff, UserAccount, UserRole
from scoring.access.flags import visible_flag
from scoring.access.policy import DECIDE, DEFAULT_POLICY, FLAG_KIND_LABELS, READ_ALL_FLAGS, AccessPolicy, NotFound, redact, require, staff_scope
from scoring.access.reviews import close_flag
from scoring.accounts import Actor, audit


@dataclass(frozen=True)
class AppealRow:
    """An appeal with the flag it contests (reason and ruling redacted)."""

    appeal_id: int
    flag_id: int
    kind_label: str
    rule_id: str | None
    staff_no: str | None
    staff_name: str | None
    reason: str | None
    filed_at: datetime | None
    decision: str
    ruling: str | None
    ruled_by: str | None
    decided_at: datetime | None
    flag_status: str


def file_appeal(session: Session, actor: Actor, flag_id: int, reason: str) -> Review:
    """A staff member contests one of their own flags; an inspector rules on it.

    Raises:
        AccessDenied: not a staff member.
        NotFound: no such flag among the actor's own.
        ValueError: no reason, a flag not penalised or dismissed, or one already appealed.
    """
    require(actor, {UserRole.STAFF}, "file appeals")
    flag = visible_flag(session, actor, flag_id)
    reason = reason.strip()
    if not reason:
        raise ValueError("an appeal needs the reason")
    if not flag.penalised or flag.status is FlagStatus.DISMISSED:
        raise ValueError(f"flag {flag.id} does not count against you: nothing to appeal")
    if session.scalar(select(Review.id).where(Review.flag_id == flag.id, Review.kind == ReviewKind.APPEAL)) is not None:
        raise ValueError(f"flag {flag.id} was appealed already; the inspector's ruling is final")
    review = Review(kind=ReviewKind.APPEAL, flag_id=flag.id, interaction_id=flag.interaction_id, decision=ReviewDecision.PENDING, comment=reason)
    session.add(review)
    session.flush()
    audit(session, actor.username, "appeal.file", "flag", flag.id, review_id=review.id)
    return review


def appeals(session: Session, actor: Actor, *, pending_only: bool = False, policy: AccessPolicy = DEFAULT_POLICY) -> list[AppealRow]:
    """Appeals with the flag they contest (staff: their own; inspectors and management: all)."""
    query = (
        select(Review, Flag, Staff.staff_no, Staff.name, UserAccount.username)
        .join(Flag, Flag.id == Review.flag_id)
        .outerjoin(Staff, Staff.id == Flag.staff_id)
        .outerjoin(UserAccount, UserAccount.id == Review.reviewer_id)
        .where(Review.kind == ReviewKind.APPEAL)
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    if actor.role is UserRole.STAFF:
        query = query.where(Flag.staff_id == staff_scope(actor, None))
    else:
        require(actor, READ_ALL_FLAGS, "read appeals")
    if pending_only:
        query = query.where(Review.decision == ReviewDecision.PENDING)
    return [
        AppealRow(
            appeal_id=r.id, flag_id=f.id, kind_label=FLAG_KIND_LABELS.get(f.kind, f.kind.value), rule_id=(f.evidence or {}).get("rule_id"),
            staff_no=sno, staff_name=sname, reason=redact(actor, r.comment, policy), filed_at=r.created_at, decision=r.decision.value,
            ruling=redact(actor, r.ruling, policy), ruled_by=reviewer, decided_at=r.decided_at, flag_status=f.status.value,
        )
        for r, f, sno, sname, reviewer in session.execute(query)
    ]


def rule_on_appeal(session: Session, actor: Actor, appeal_id: int, *, uphold_flag: bool, ruling: str) -> Review:
    """The inspector's final ruling: uphold the flag (appeal rejected) or dismiss it (appeal accepted).

    Raises:
        AccessDenied: not an inspector.
        NotFound: no such appeal.
        ValueError: no ruling text, or the appeal was ruled on already (rulings are final).
    """
    require(actor, DECIDE, "rule on appeals")
    review = session.get(Review, int(appeal_id))
    if review is None or review.kind is not ReviewKind.APPEAL:
        raise NotFound(f"no appeal {appeal_id}")
    if review.decision is not ReviewDecision.PENDING:
        raise ValueError(f"appeal {appeal_id} was ruled on already ({review.decision.value}); the ruling is final")
    ruling = ruling.strip()
    if not ruling:
        raise ValueError("a ruling needs its reasons")
    flag = session.get(Flag, review.flag_id)
    review.decision = ReviewDecision.CONFIRM if uphold_flag else ReviewDecision.DISMISS
    review.ruling = ruling
    review.reviewer_id = actor.user_id
    review.decided_at = datetime.now().replace(microsecond=0)
    close_flag(session, actor, flag, FlagStatus.CONFIRMED if uphold_flag else FlagStatus.DISMISSED, f"appeal {review.id}: {ruling}")
    session.flush()
    audit(session, actor.username, "appeal.rule", "flag", flag.id, review_id=review.id, uphold_flag=uphold_flag, ruling=ruling)
    return review

