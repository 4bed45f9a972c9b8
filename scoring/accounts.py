"""Local dashboard accounts: bcrypt password hashes, roles, login sessions that expire, the audit log.

Roles (``models.db.UserRole``): inspector (质检员), staff (窗口工作人员, tied to one ``Staff``
row), manager (管理人员) and admin. Passwords are never stored, only bcrypt hashes. Every login,
account change, review decision and export is written to ``audit_log`` through :func:`audit`.

Functions take the caller's ``Session`` and only add and flush; the caller owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import AuditLog, Staff, UserAccount, UserRole

log = logging.getLogger("scoring")

MIN_PASSWORD_CHARS = 8
_BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt>=4.1 rejects) anything longer

ROLE_LABELS = {
    UserRole.INSPECTOR: "质检员",
    UserRole.STAFF: "窗口工作人员",
    UserRole.MANAGER: "管理人员",
    UserRole.ADMIN: "管理员",
}


class AccountError(ValueError):
    """An account that cannot be created or changed; the message says why."""


class LoginError(PermissionError):
    """Wrong user name or password, or an inactive account (deliberately not saying which)."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: what every access-layer query is scoped by."""

    user_id: int
    username: str
    role: UserRole
    staff_id: int | None = None
    staff_no: str | None = None

    @property
    def label(self) -> str:
        return f"{self.username} ({ROLE_LABELS[self.role]})"


@dataclass(frozen=True)
class SessionOptions:
    """When a dashboard login expires: after ``idle_minutes`` without a request, or ``max_hours`` after login."""

    idle_minutes: int = 30
    max_hours: int = 12


@dataclass
class LoginSession:
    """A logged-in dashboard session (kept in the browser session's state, never in a cookie)."""

    actor: Actor
    issued_at: datetime
    last_seen: datetime
    options: SessionOptions

    def expired(self, now: datetime | None = None) -> bool:
        now = now or datetime.now()
        return (
            now - self.last_seen > timedelta(minutes=self.options.idle_minutes)
            or now - self.issued_at > timedelta(hours=self.options.max_hours)
        )

    def touch(self, now: datetime | None = None) -> None:
        self.last_seen = now or datetime.now()


@dataclass(frozen=True)
class AccountInfo:
    """An account as listed (no hash)."""

    username: str
    role: UserRole
    staff_no: str | None
    active: bool
    created_at: datetime | None


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A bcrypt hash of ``password``.

    Raises:
        AccountError: shorter than :data:`MIN_PASSWORD_CHARS` or longer than bcrypt takes.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    raw = password.encode("utf-8")
    if len(raw) > _BCRYPT_MAX_BYTES:
        raise AccountError(f"a password may have at most {_BCRYPT_MAX_BYTES} bytes (UTF-8)")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches the bcrypt ``password_hash``."""
    raw = password.encode("utf-8")
    if len(raw) > _BCRYPT_MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(raw, password_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


# A hash to check against when the user does not exist, so that timing does not tell.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(4)).decode("ascii")


def audit(session: Session, actor: str, action: str, entity: str = "", entity_id: int | None = None, **detail: Any) -> AuditLog:
    """Write one audit log line (in the caller's transaction)."""
    row = AuditLog(at=datetime.now().replace(microsecond=0), actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail)
    session.add(row)
    session.flush()
    return row


def _staff(session: Session, staff_no: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.staff_no == staff_no))
    if staff is None:
        raise AccountError(f"unknown staff 工号 {staff_no!r}: load the site file first")
    return staff


def create_account(
    session: Session,
    username: str,
    password: str,
    role: UserRole | str,
    *,
    staff_no: str | None = None,
    by: str = "cli",
    rounds: int = 12,
) -> UserAccount:
    """Create an account.

    Args:
        role: one of inspector, staff, manager, admin.
        staff_no: the 工号 a staff account belongs to (required for staff, refused otherwise).
        by: who creates it, for the audit log.

    Raises:
        AccountError: bad name, weak password, duplicate, unknown role or 工号.
    """
    username = username.strip()
    if not username or len(username) > 64 or any(ch.isspace() for ch in username):
        raise AccountError(f"bad user name {username!r}: 1-64 characters, no spaces")
    try:
        role = UserRole(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(r.value for r in UserRole)}") from None
    if session.scalar(select(UserAccount.id).where(UserAccount.username == username)) is not None:
        raise AccountError(f"an account {username!r} exists already")
    staff_id = None
    if role is UserRole.STAFF:
        if not staff_no:
            raise AccountError("a staff account needs the staff member's 工号 (--staff)")
        staff_id = _staff(session, staff_no).id
    elif staff_no:
        raise AccountError(f"only staff accounts belong to a 工号, not {role.value} accounts")
    account = UserAccount(username=username, password_hash=hash_password(password, rounds=rounds), role=role, staff_id=staff_id, active=True)
    session.add(account)
    session.flush()
    audit(session, by, "account.create", "user_account", account.id, username=username, role=role.value, staff_no=staff_no)
    return account


def _account(session: Session, username: str) -> UserAccount:
    account = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if account is None:
        raise AccountError(f"no account {username!r}")
    return account


def set_password(session: Session, username: str, password: str, *, by: str = "cli", rounds: int = 12) -> None:
    """Replace an account's password (audited)."""
    account = _account(session, username)
    account.password_hash = hash_password(password, rounds=rounds)
    audit(session, by, "account.password", "user_account", account.id, username=username)


def set_active(session: Session, username: str, active: bool, *, by: str = "cli") -> None:
    """Enable or disable an account (audited); a disabled account cannot log in."""
    account = _account(session, username)
    account.active = active
    audit(session, by, "account.enable" if active else "account.disable", "user_account", account.id, username=username)


def list_accounts(session: Session) -> list[AccountInfo]:
    """Every account, by user name (read-only)."""
    rows = session.execute(
        select(UserAccount.username, UserAccount.role, Staff.staff_no, UserAccount.active, UserAccount.created_at)
        .outerjoin(Staff, Staff.id == UserAccount.staff_id)
        .order_by(UserAccount.username)
    ).all()
    return [AccountInfo(*r) for r in rows]


def _actor(session: Session, account: UserAccount) -> Actor:
    staff_no = session.scalar(select(Staff.staff_no).where(Staff.id == account.staff_id)) if account.staff_id else None
    return Actor(account.id, account.username, account.role, account.staff_id, staff_no)


def authenticate(session: Session, username: str, password: str) -> Actor:
    """Check a login and audit it.

    Raises:
        LoginError: unknown user, wrong password or inactive account.
    """
    account = session.scalar(select(UserAccount).where(UserAccount.username == username.strip()))
    ok = verify_password(password, account.password_hash if account is not None else _DUMMY_HASH)
    if account is None or not ok or not account.active:
        audit(session, username.strip()[:64] or "?", "login.failed", "user_account", account.id if account else None)
        raise LoginError("wrong user name or password")
    if account.role is UserRole.STAFF and account.staff_id is None:
        raise LoginError("this staff account is not tied to a staff member")
    audit(session, account.username, "login", "user_account", account.id)
    return _actor(session, account)


def reload_actor(session: Session, actor: Actor) -> Actor:
    """The actor as the database has it now (role or staff link changed, account disabled).

    Raises:
        LoginError: the account was removed or disabled since login.
    """
    account = session.get(UserAccount, actor.user_id)
    if account is None or not account.active:
        raise LoginError("the account is disabled")
    return _actor(session, account)


def start_session(actor: Actor, options: SessionOptions | None = None, *, now: datetime | None = None) -> LoginSession:
    """A fresh login session for ``actor``."""
    now = now or datetime.now()
    return LoginSession(actor, now, now, options or SessionOptions())


__all__ = [
    "AccountError",
    "AccountInfo",
    "Actor",
    "LoginError",
    "LoginSession",
    "MIN_PASSWORD_CHARS",
    "ROLE_LABELS",
    "SessionOptions",
    "audit",
    "authenticate",
    "create_account",
    "hash_password",
    "list_accounts",
    "reload_actor",
    "set_active",
    "set_password",
    "start_session",
    "verify_password",
]
