"""Live alerts as the acting user may read them: the dashboard's badge and list.

Inspectors, managers and admins read every window's alerts; a staff member only the alerts
about their own service (never another's). The heard text is redacted for roles that do not
see citizens' personal numbers (:class:`~scoring.access.policy.AccessPolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.alert_db import AlertRow
from models.db import Staff, UserRole, Window
from scoring.access.policy import DEFAULT_POLICY, FLAG_KIND_LABELS, READ_ALL_FLAGS, AccessPolicy, redact, staff_scope
from scoring.accounts import Actor


@dataclass(frozen=True)
class AlertItem:
    """One live alert (text redacted for the actor)."""

    id: int
    raised_at: datetime
    spoken_at: datetime | None
    ended_at: datetime | None
    kind: str
    kind_label: str
    rule_id: str | None
    window: str | None
    staff_no: str | None
    staff_name: str | None
    text: str | None
    flag_id: int | None


def _scope(actor: Actor) -> list:
    """The conditions that keep ``actor`` to the alerts they may read."""
    if actor.role in READ_ALL_FLAGS:
        return []
    if actor.role is UserRole.STAFF:
        return [AlertRow.staff_id == staff_scope(actor, None)]
    return [AlertRow.id.is_(None)]  # pragma: no cover - every role is one of the above


def alert_count(session: Session, actor: Actor, *, since: datetime | None = None) -> int:
    """How many alerts ``actor`` may read, raised at or after ``since`` (the badge)."""
    conditions = _scope(actor)
    if since is not None:
        conditions.append(AlertRow.raised_at >= since)
    return session.scalar(select(func.count(AlertRow.id)).where(*conditions)) or 0


def live_alerts(session: Session, actor: Actor, *, since: datetime | None = None, limit: int = 50,
                policy: AccessPolicy = DEFAULT_POLICY) -> list[AlertItem]:
    """The newest alerts ``actor`` may read (raised at or after ``since``), newest first."""
    conditions = _scope(actor)
    if since is not None:
        conditions.append(AlertRow.raised_at >= since)
    rows = session.execute(
        select(AlertRow, Window.code, Staff.staff_no, Staff.name)
        .outerjoin(Window, Window.id == AlertRow.window_id)
        .outerjoin(Staff, Staff.id == AlertRow.staff_id)
        .where(*conditions)
        .order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
        .limit(limit)
    ).all()
    return [
        AlertItem(
            id=a.id, raised_at=a.raised_at, spoken_at=a.spoken_at, ended_at=a.ended_at, kind=a.kind.value,
            kind_label=FLAG_KIND_LABELS.get(a.kind, a.kind.value), rule_id=a.rule_id, window=code, staff_no=sno,
            staff_name=sname, text=redact(actor, a.text, policy), flag_id=a.flag_id,
        )
        for a, code, sno, sname in rows
    ]


__all__ = ["AlertItem", "alert_count", "live_alerts"]
