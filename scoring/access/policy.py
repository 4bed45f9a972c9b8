"""Who may see and do what: the roles' rights, the errors, and the helpers every query uses.

Role limits are enforced in the data layer, not by hiding pages: a staff member's queries are
always restricted to their own staff id whatever the caller asks for (asking for someone else's
data raises :class:`AccessDenied`), only inspectors decide flags and rule on appeals, only
managers and admins see the hall's analytics and export, only admins manage accounts. Citizens'
ID, mobile and bank card numbers are masked (:func:`models.privacy.redact_pii`) unless the
actor's role is in ``AccessPolicy.pii_roles``; the same roles may play the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Literal

from sqlalchemy import func
from sqlalchemy.orm import Session

from models.db import FlagKind, FlagStatus, FollowUpStatus, UserRole
from models.privacy import redact_pii
from scoring.accounts import Actor

FLAG_KIND_LABELS = {
    FlagKind.FORBIDDEN: "服务禁语",
    FlagKind.POOR_RATING: "差评",
    FlagKind.MISSING_COURTESY: "缺少问候/道别",
    FlagKind.CITIZEN_ABUSE: "群众辱骂（不扣分）",
    FlagKind.OVERDUE_FOLLOW_UP: "回访逾期",
    FlagKind.STAFF_MISMATCH: "工号不符",
    FlagKind.UNLINKED_RATING: "评价未关联",
    FlagKind.SITUATIONAL: "未说情境用语",
    FlagKind.TELEPHONE: "电话用语缺失",
    FlagKind.PERSONAL_CALL: "服务中接打无关电话",
    FlagKind.REPEAT_VISIT: "重复跑腿（未一次性告知）",
    FlagKind.SITUATION_PHRASE: "情形用语缺失",
}
FLAG_STATUS_LABELS = {FlagStatus.OPEN: "待处理", FlagStatus.CONFIRMED: "已确认", FlagStatus.DISMISSED: "已排除"}
FOLLOW_UP_LABELS = {
    FollowUpStatus.OPEN: "待回访",
    FollowUpStatus.CALLED_BACK: "已回访",
    FollowUpStatus.RECTIFIED: "已整改",
    FollowUpStatus.CLOSED: "已办结",
}

Decision = Literal["confirm", "dismiss", "change_rule"]


class AccessDenied(PermissionError):
    """The actor's role may not do or see this; the message says what."""


class NotFound(LookupError):
    """No such flag, appeal or interaction (or not one the actor may see)."""


@dataclass(frozen=True)
class AccessPolicy:
    """Site policy: which roles see citizens' personal numbers and hear recordings."""

    pii_roles: frozenset[UserRole] = frozenset({UserRole.INSPECTOR})
    # a staff member may hear the clip of their own flag (a site's choice, off by default; the access
    # layer shows a staff member only their own flags)
    staff_hear_own_audio: bool = False

    def sees_pii(self, actor: Actor) -> bool:
        return actor.role in self.pii_roles

    def hears_audio(self, actor: Actor) -> bool:
        """May ``actor`` play the clip of a flag they may see."""
        return self.sees_pii(actor) or (self.staff_hear_own_audio and actor.role is UserRole.STAFF)


DEFAULT_POLICY = AccessPolicy()

# What each role may do. Staff-owned reads are open to every role but scoped by staff_scope.
READ_ALL_FLAGS = {UserRole.INSPECTOR, UserRole.MANAGER, UserRole.ADMIN}
DECIDE = {UserRole.INSPECTOR}
ANALYTICS = {UserRole.MANAGER, UserRole.ADMIN}
ADMIN = {UserRole.ADMIN}


def require(actor: Actor, roles: Iterable[UserRole], what: str) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` has one of ``roles``."""
    roles = set(roles)
    if actor.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise AccessDenied(f"{actor.username} ({actor.role.value}) may not {what}; only {allowed}")


def staff_scope(actor: Actor, staff_id: int | None) -> int | None:
    """The staff id a query may cover: a staff member's own, whatever was asked.

    Raises:
        AccessDenied: a staff member asked for another staff member's data.
    """
    if actor.role is UserRole.STAFF:
        if actor.staff_id is None:
            raise AccessDenied(f"{actor.username}: a staff account without a staff member sees nothing")
        if staff_id is not None and int(staff_id) != actor.staff_id:
            raise AccessDenied(f"{actor.username} may see only their own data (工号 {actor.staff_no})")
        return actor.staff_id
    return int(staff_id) if staff_id is not None else None


def redact(actor: Actor, text: str | None, policy: AccessPolicy = DEFAULT_POLICY) -> str | None:
    """``text`` as ``actor`` may read it."""
    if text is None or policy.sees_pii(actor):
        return text
    return redact_pii(text).text


def redact_value(actor: Actor, value: Any, policy: AccessPolicy = DEFAULT_POLICY) -> Any:
    """``value`` (text, or a dict/list of them, e.g. an audit line's details) as ``actor`` may read it."""
    if isinstance(value, str):
        return redact(actor, value, policy)
    if isinstance(value, dict):
        return {k: redact_value(actor, v, policy) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(actor, v, policy) for v in value]
    return value


def day_start(d: date | datetime | None) -> datetime | None:
    if d is None or isinstance(d, datetime):
        return d
    return datetime.combine(d, datetime.min.time())


def day_end(d: date | datetime | None) -> datetime | None:
    """End bound (exclusive) of an inclusive last day."""
    if d is None or isinstance(d, datetime):
        return d
    return datetime.combine(d + timedelta(days=1), datetime.min.time())


def bucket_expr(session: Session, column, period: str):
    """SQL expression of a time column's day or month (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM" if period == "month" else "YYYY-MM-DD")
    # SQLite stores datetimes as ISO text: a prefix is the bucket (much cheaper than strftime)
    return func.substr(column, 1, 7 if period == "month" else 10)

