"""Local dashboard accounts: bcrypt password hashes, roles, login sessions that expire, the audit log.

Roles (``models.db.UserRole``): inspector (质检员), staff (窗口工作人员, tied to one ``Staff``
row), manager (管理人员) and admin. Passwords are never stored, only bcrypt hashes. Every login,
account change, review decision and export is written to ``audit_log`` through :func:`audit`.
Failed logins are counted per user name and per client address in ``login_throttle`` (shared by
every dashboard process) and lock either out for a while (:class:`ThrottleOptions`).

Functions take the caller's ``Session`` and only add and flush; the caller owns the transaction.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import secrets
import string
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import bcrypt
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from models.db import AuditLog, LoginThrottle, Staff, UserAccount, UserRole

log = logging.getLogger("scoring")

DEFAULT_ROUNDS = 12  # bcrypt cost of new hashes (tests and the demo pass less to save time)
MIN_PASSWORD_CHARS = 10
MIN_PASSWORD_CLASSES = 2  # of: lower-case letters, upper-case letters, digits, anything else
_BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt>=4.1 rejects) anything longer
_BCRYPT_COST = re.compile(r"^\$2[abxy]?\$(\d{2})\$")

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


class LoginThrottled(LoginError):
    """Too many failed logins for this user name or from this address: refused until ``until``."""

    def __init__(self, until: datetime, now: datetime):
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(f"登录失败次数过多，请 {minutes} 分钟后再试")
        self.until = until


@dataclass(frozen=True)
class ThrottleOptions:
    """When failed logins lock a user name or a client address, and for how long.

    A lock refuses every login (the right password too) until it ends; failures older than
    ``window_minutes`` are forgotten. The address limit is higher because a hall's counters may
    reach the dashboard through one address.
    """

    account_failures: int = 5
    address_failures: int = 20
    window_minutes: int = 15
    lockout_minutes: int = 15


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


def _char_classes(password: str) -> int:
    def kind(ch: str) -> str:
        if ch.isascii() and ch.isalpha():
            return "lower" if ch.islower() else "upper"
        return "digit" if ch.isascii() and ch.isdigit() else "other"

    return len({kind(ch) for ch in password})


def check_password_policy(password: str, username: str | None = None) -> None:
    """Refuse a weak dashboard password (the CLI and the admin page show the message as is).

    Raises:
        AccountError: shorter than :data:`MIN_PASSWORD_CHARS`, fewer than
            :data:`MIN_PASSWORD_CLASSES` kinds of characters, containing the user name, or
            longer than bcrypt takes.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"密码太弱：至少需要 {MIN_PASSWORD_CHARS} 个字符")
    if len(password.encode("utf-8")) > _BCRYPT_MAX_BYTES:
        raise AccountError(f"密码太长：最多 {_BCRYPT_MAX_BYTES} 字节（UTF-8 编码）")
    if _char_classes(password) < MIN_PASSWORD_CLASSES:
        raise AccountError(f"密码太弱：需包含至少 {MIN_PASSWORD_CLASSES} 类字符（小写字母、大写字母、数字、符号）")
    if username and username.strip().casefold() in password.casefold():
        raise AccountError("密码太弱：不能包含用户名")


def generate_password(chars: int = 14) -> str:
    """A random password that meets the policy (letters and digits, no look-alikes such as 0/O, 1/l)."""
    alphabet = [ch for ch in string.ascii_letters + string.digits if ch not in "0O1lI"]
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(chars))
        if any(c.islower() for c in password) and any(c.isupper() for c in password) and any(c.isdigit() for c in password):
            return password


def hash_password(password: str, *, rounds: int = DEFAULT_ROUNDS) -> str:
    """A bcrypt hash of ``password``.

    Raises:
        AccountError: the password fails :func:`check_password_policy`.
    """
    check_password_policy(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches the bcrypt ``password_hash``."""
    raw = password.encode("utf-8")
    too_long = len(raw) > _BCRYPT_MAX_BYTES  # still checked (truncated): an early return would tell by its speed
    try:
        ok = bcrypt.checkpw(raw[:_BCRYPT_MAX_BYTES], password_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False
    return ok and not too_long


def bcrypt_cost(password_hash: str | None) -> int | None:
    """The cost (log2 rounds) a bcrypt hash was made with, or None when it is not one."""
    m = _BCRYPT_COST.match(password_hash or "")
    return int(m.group(1)) if m else None


@functools.lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"no-such-account", bcrypt.gensalt(rounds)).decode("ascii")


def dummy_hash(session: Session) -> str:
    """What an unknown user name's password is checked against: a hash of the cost most accounts
    have, so that an unknown name takes as long to refuse as a known one."""
    costs = Counter(c for c in map(bcrypt_cost, session.scalars(select(UserAccount.password_hash))) if c is not None)
    cost = max(costs, key=lambda c: (costs[c], c)) if costs else DEFAULT_ROUNDS
    return _dummy_hash(cost)


def audit(session: Session, actor: str, action: str, entity: str = "", entity_id: int | None = None, **detail: Any) -> AuditLog:
    """Write one audit log line (in the caller's transaction)."""
    row = AuditLog(at=datetime.now().replace(microsecond=0), actor=actor, action=action, entity=entity, entity_id=entity_id, detail=detail)
    session.add(row)
    session.flush()
    return row


def _staff(session: Session, staff_no: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.staff_no == staff_no))
    if staff is None:
        raise AccountError(f"未知工号 {staff_no!r}：请先导入站点文件")
    return staff


def create_account(
    session: Session,
    username: str,
    password: str,
    role: UserRole | str,
    *,
    staff_no: str | None = None,
    by: str = "cli",
    rounds: int = DEFAULT_ROUNDS,
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
        raise AccountError(f"用户名 {username!r} 无效：需 1–64 个字符，不含空格")
    try:
        role = UserRole(role)
    except ValueError:
        raise AccountError(f"未知角色 {role!r}；可选：{', '.join(r.value for r in UserRole)}") from None
    if session.scalar(select(UserAccount.id).where(UserAccount.username == username)) is not None:
        raise AccountError(f"账户 {username!r} 已存在")
    check_password_policy(password, username)
    staff_id = None
    if role is UserRole.STAFF:
        if not staff_no:
            raise AccountError("工作人员账户需要填写工号（--staff）")
        staff_id = _staff(session, staff_no).id
    elif staff_no:
        raise AccountError(f"只有工作人员账户关联工号，{ROLE_LABELS[role]}账户不能关联")
    account = UserAccount(username=username, password_hash=hash_password(password, rounds=rounds), role=role, staff_id=staff_id, active=True)
    session.add(account)
    session.flush()
    audit(session, by, "account.create", "user_account", account.id, username=username, role=role.value, staff_no=staff_no)
    return account


def _account(session: Session, username: str) -> UserAccount:
    account = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if account is None:
        raise AccountError(f"没有账户 {username!r}")
    return account


def set_password(session: Session, username: str, password: str, *, by: str = "cli", rounds: int = DEFAULT_ROUNDS) -> None:
    """Replace an account's password (audited).

    Raises:
        AccountError: no such account, or the password fails :func:`check_password_policy`.
    """
    account = _account(session, username)
    check_password_policy(password, username)
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


def _typed_name_tag(name: str) -> str:
    # A short digest: repeated attempts with one typed name stay recognisable, while a password
    # typed into the name field cannot be read back or confirmed by a dictionary (too few bits).
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]


def _insert_missing(session: Session, keys: list[str], now: datetime) -> None:
    values = [{"key": k, "failures": 0, "window_started_at": now} for k in keys]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        # insert-if-missing in one statement: two dashboard processes may see the same new key
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        session.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing(index_elements=["key"]))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        have = set(session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_(keys))))
        session.add_all(LoginThrottle(**v) for v in values if v["key"] not in have)
        session.flush()


def _throttle_rows(session: Session, keys: list[str], now: datetime, options: ThrottleOptions) -> dict[str, LoginThrottle]:
    """The throttle rows of ``keys``, locked for this transaction, expired locks and windows reset.

    Missing rows are created unless one of the rows is locked, so that a locked-out address
    cannot fill the table with names.
    """
    keys = sorted(keys)  # one order of row locks in every transaction: no deadlock between two attempts
    # A write first: SQLite takes its write lock, PostgreSQL locks the rows. Parallel attempts on
    # one key then wait for each other and cannot all be checked before the count reaches the limit.
    session.execute(update(LoginThrottle).where(LoginThrottle.key.in_(keys)).values(failures=LoginThrottle.failures))
    query = (
        select(LoginThrottle).where(LoginThrottle.key.in_(keys)).order_by(LoginThrottle.key)
        .with_for_update().execution_options(populate_existing=True)
    )
    rows = {row.key: row for row in session.scalars(query)}
    window = timedelta(minutes=options.window_minutes)
    locked = False
    for row in rows.values():
        if (row.locked_until is not None and row.locked_until <= now) or (row.locked_until is None and now - row.window_started_at >= window):
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        locked = locked or row.locked_until is not None
    if not locked and len(rows) < len(keys):
        _insert_missing(session, [k for k in keys if k not in rows], now)
        rows.update((row.key, row) for row in session.scalars(query) if row.key not in rows)
    return rows


def _prune_throttle(session: Session, now: datetime, options: ThrottleOptions) -> None:
    """Forget rows whose window and lockout are over (what they hold no longer counts)."""
    stale = (
        select(LoginThrottle.id)
        .where(LoginThrottle.window_started_at < now - timedelta(minutes=options.window_minutes))
        .where(or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now))
        .limit(1000).with_for_update(skip_locked=True)  # never wait for an attempt in progress
    )
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(LoginThrottle).where(LoginThrottle.id.in_(ids)))


def _login_failed(session: Session, who: str, account: UserAccount | None, address: str | None, reason: str) -> None:
    audit(session, who, "login.failed", "user_account", account.id if account else None, reason=reason, address=address)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    address: str | None = None,
    throttle: ThrottleOptions | None = None,
    now: datetime | None = None,
) -> Actor:
    """Check a login, throttled per user name and per client address, and audit it.

    Every failed attempt (a locked-out one too) writes one ``login.failed`` audit line; an
    unknown user name is recorded as a short digest, never as typed. An unknown name is checked
    against a dummy hash of the same bcrypt cost and counted like a known one, so neither timing
    nor lockout tells whether a name exists.

    Args:
        address: the client's address as the dashboard sees it (None: no per-address limit).
        throttle: the limits (default :class:`ThrottleOptions`).
        now: the time (tests); default now.

    Raises:
        LoginThrottled: this user name or address is locked out (the password is not checked).
        LoginError: unknown user, wrong password or inactive account.
    """
    options, now = throttle or ThrottleOptions(), now or datetime.now()
    address = address[:100] if address else None
    name = username.strip()
    account = session.scalar(select(UserAccount).where(UserAccount.username == name)) if name else None
    who = account.username if account is not None else f"unknown#{_typed_name_tag(name)}"
    account_key = f"account:{account.username}" if account is not None else f"unknown:{_typed_name_tag(name)}"
    limits = {account_key: options.account_failures}
    if address:
        limits[f"address:{address}"] = options.address_failures
    rows = _throttle_rows(session, list(limits), now, options)
    locks = [r.locked_until for r in rows.values() if r.locked_until is not None]
    if locks:
        _login_failed(session, who, account, address, "locked")
        raise LoginThrottled(max(locks), now)
    for row in rows.values():
        row.failures += 1  # counted before the slow check, while the rows are locked
    session.flush()
    ok = verify_password(password, account.password_hash if account is not None else dummy_hash(session))
    reason = (
        "unknown_user" if account is None else "bad_password" if not ok else "inactive" if not account.active
        else "no_staff" if account.role is UserRole.STAFF and account.staff_id is None else None
    )
    if reason is not None:
        lockout = timedelta(minutes=options.lockout_minutes)
        for key, row in rows.items():
            if row.failures >= limits[key]:
                row.locked_until = now + lockout
        session.flush()
        _login_failed(session, who, account, address, reason)
        if any(r.locked_until for r in rows.values()):
            raise LoginThrottled(now + lockout, now)
        raise LoginError("该工作人员账户未关联工作人员，请联系管理员" if reason == "no_staff" else "用户名或密码错误")
    rows[account_key].failures = 0  # the right password clears the name's count, not the address's
    for key in limits.keys() - {account_key}:
        rows[key].failures = max(0, rows[key].failures - 1)
    _prune_throttle(session, now, options)
    audit(session, account.username, "login", "user_account", account.id, address=address)
    return _actor(session, account)


def reload_actor(session: Session, actor: Actor) -> Actor:
    """The actor as the database has it now (role or staff link changed, account disabled).

    Raises:
        LoginError: the account was removed or disabled since login.
    """
    account = session.get(UserAccount, actor.user_id)
    if account is None or not account.active:
        raise LoginError("账户已停用")
    return _actor(session, account)


def start_session(actor: Actor, options: SessionOptions | None = None, *, now: datetime | None = None) -> LoginSession:
    """A fresh login session for ``actor``."""
    now = now or datetime.now()
    return LoginSession(actor, now, now, options or SessionOptions())


__all__ = [
    "AccountError",
    "AccountInfo",
    "Actor",
    "DEFAULT_ROUNDS",
    "LoginError",
    "LoginSession",
    "LoginThrottled",
    "MIN_PASSWORD_CHARS",
    "MIN_PASSWORD_CLASSES",
    "ROLE_LABELS",
    "SessionOptions",
    "ThrottleOptions",
    "audit",
    "authenticate",
    "bcrypt_cost",
    "check_password_policy",
    "create_account",
    "dummy_hash",
    "generate_password",
    "hash_password",
    "list_accounts",
    "reload_actor",
    "set_active",
    "set_password",
    "start_session",
    "verify_password",
]
