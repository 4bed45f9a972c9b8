"""Staff feedback: a staff member acknowledges (已阅) each of their flags; the landing page counts what is new.

Only the staff member the flag names may acknowledge it (another role's 已阅 would say nothing about
whether the person read it); the act is stored (:class:`models.feedback_db.FlagAcknowledgementRow`)
and audited. "New" is a flag of the kinds a staff member is shown (服务禁语, 缺少问候/道别, 差评),
not dismissed, that the account has not acknowledged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, FlagStatus, UserRole
from models.feedback_db import FlagAcknowledgementRow
from scoring.access.flags import visible_flag
from scoring.access.policy import AccessDenied, require, staff_scope
from scoring.accounts import Actor, audit

# What a staff member sees of their own flags: everything penalised (citizen abuse protects them and is
# not theirs to appeal; an unlinked rating or an overdue follow-up is the hall's matter).
STAFF_FLAG_KINDS = (FlagKind.FORBIDDEN, FlagKind.MISSING_COURTESY, FlagKind.SITUATIONAL, FlagKind.POOR_RATING, FlagKind.STAFF_MISMATCH,
                    FlagKind.TELEPHONE, FlagKind.PERSONAL_CALL, FlagKind.REPEAT_VISIT, FlagKind.SITUATION_PHRASE)


def acknowledge_flag(session: Session, actor: Actor, flag_id: int, *, at: datetime | None = None) -> bool:
    """Record that the staff member has read their flag (in the caller's transaction); False when already acknowledged.

    Raises:
        AccessDenied: not a staff account.
        NotFound: no such flag, or not one of theirs.
    """
    require(actor, {UserRole.STAFF}, "acknowledge a flag (only the staff member it names)")
    flag = visible_flag(session, actor, flag_id)
    if flag.staff_id != actor.staff_id:
        raise AccessDenied(f"{actor.username} may acknowledge only their own flags")
    done = session.scalar(select(FlagAcknowledgementRow.id).where(FlagAcknowledgementRow.flag_id == flag.id,
                                                                  FlagAcknowledgementRow.account_id == actor.user_id))
    if done is not None:
        return False
    at = (at or datetime.now()).replace(microsecond=0)
    session.add(FlagAcknowledgementRow(flag_id=flag.id, account_id=actor.user_id, acked_at=at))
    audit(session, actor.username, "flag.acknowledge", "flag", flag.id)
    session.flush()
    return True


def acknowledged(session: Session, actor: Actor, flag_ids: Iterable[int]) -> dict[int, datetime]:
    """When the actor acknowledged each of these flags (flags not acknowledged are absent)."""
    ids = [int(i) for i in flag_ids]
    if not ids:
        return {}
    q = select(FlagAcknowledgementRow.flag_id, FlagAcknowledgementRow.acked_at).where(
        FlagAcknowledgementRow.account_id == actor.user_id, FlagAcknowledgementRow.flag_id.in_(ids))
    return dict(session.execute(q).all())


def unacknowledged_count(session: Session, actor: Actor) -> int:
    """How many of the staff member's flags are new to them (not dismissed, not acknowledged); 0 for other roles."""
    if actor.role is not UserRole.STAFF:
        return 0
    sid = staff_scope(actor, None)
    acked = select(FlagAcknowledgementRow.flag_id).where(FlagAcknowledgementRow.account_id == actor.user_id)
    q = select(func.count(Flag.id)).where(Flag.staff_id == sid, Flag.kind.in_(STAFF_FLAG_KINDS), Flag.status != FlagStatus.DISMISSED,
                                          Flag.id.not_in(acked))
    return int(session.scalar(q) or 0)


__all__ = ["STAFF_FLAG_KINDS", "acknowledge_flag", "acknowledged", "unacknowledged_count"]
