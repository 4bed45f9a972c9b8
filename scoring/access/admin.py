"""Administration: accounts (create, enable, disable) and the audit trail; admins only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scoring.access.policy import ADMIN, redact_value, require
from scoring.accounts import Actor


@dataclass(frozen=True)
class AccountRow:
    """An account as the admin page lists it."""

    username: str
    role: str
    staff_no: str | None
    active: bool
    created_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    """One audit log line (free-text details redacted)."""

    at: datetime
    actor: str
    action: str
    entity: str | None
    entity_id: int | None
    detail: dict[str, Any]


def accounts(session: Session, actor: Actor) -> list[AccountRow]:
    """Every account (admins only)."""
    from scoring.accounts import list_accounts

    require(actor, ADMIN, "manage accounts")
    return [AccountRow(a.username, a.role.value, a.staff_no, a.active, a.created_at) for a in list_accounts(session)]


def admin_create_account(session: Session, actor: Actor, username: str, password: str, role: str, staff_no: str | None = None) -> None:
    """Create an account from the app (admins only, audited)."""
    from scoring.accounts import create_account

    require(actor, ADMIN, "manage accounts")
    create_account(session, username, password, role, staff_no=staff_no or None, by=actor.username)


def admin_set_active(session: Session, actor: Actor, username: str, active: bool) -> None:
    """Enable or disable an account (admins only, audited; admins cannot disable themselves)."""
    from scoring.accounts import set_active

    require(actor, ADMIN, "manage accounts")
    if username == actor.username and not active:
        raise ValueError("you cannot disable your own account")
    set_active(session, username, active, by=actor.username)


def audit_trail(session: Session, actor: Actor, *, limit: int = 200) -> list[AuditRow]:
    """The latest audit log lines (admins only)."""
    from models.db import AuditLog

    require(actor, ADMIN, "read the audit log")
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
    # reasons and notes are free text: mask personal numbers like everywhere else
    return [
        AuditRow(r.at, r.actor, r.action, r.entity, r.entity_id, redact_value(actor, dict(r.detail or {})))
        for r in rows
    ]
