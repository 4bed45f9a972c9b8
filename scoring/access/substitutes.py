"""替岗备案 (四.(三).2) on the dashboard: a manager files a substitute now, and the hall's substitutions.

The same writer as ``windowqa attendance substitute-add`` (:func:`scoring.store.site.file_substitute`):
the filing time is the moment of filing, and one filed after the substitution began is flagged
"not filed" when the month is classified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Staff, Substitution, UserRole, Window
from scoring.access.policy import DEFAULT_POLICY, AccessPolicy, redact, require
from scoring.accounts import Actor, audit
from scoring.store.site import SiteFileError, file_substitute

FILE_SUBSTITUTES = {UserRole.MANAGER}
READ_SUBSTITUTES = {UserRole.MANAGER, UserRole.ADMIN, UserRole.INSPECTOR}


@dataclass(frozen=True)
class SubstitutionRow:
    """A substitution as the hall's list shows it, and whether it was filed beforehand."""

    substitution_id: int
    window: str
    substitute_no: str
    substitute_name: str
    replaced_no: str | None
    starts_at: datetime
    ends_at: datetime
    filed_at: datetime | None
    filed_before: bool
    reason: str


def file_substitute_now(
    session: Session, actor: Actor, *, window: str, substitute_no: str, starts_at: datetime, ends_at: datetime,
    replaces_no: str | None = None, reason: str = "", now: datetime | None = None,
) -> Substitution:
    """A manager files (备案) a substitute at a window, now; filing it again keeps the first filing time.

    Raises:
        AccessDenied: not a manager.
        ValueError: an unknown window or 工号, or an end not after the start.
    """
    require(actor, FILE_SUBSTITUTES, "file substitutes")
    filed_at = (now or datetime.now()).replace(microsecond=0)
    try:
        row, created = file_substitute(session, window, substitute_no, starts_at, ends_at, filed_at=filed_at,
                                       replaces_no=replaces_no or None, reason=reason.strip())
    except SiteFileError as exc:
        raise ValueError(f"替岗备案无效：{exc}") from None
    audit(session, actor.username, "substitute.file" if created else "substitute.update", "substitution", row.id,
          window=window, substitute=substitute_no, replaces=replaces_no, starts_at=starts_at.isoformat(),
          ends_at=ends_at.isoformat(), filed_at=row.filed_at.isoformat())
    return row


def substitutions(session: Session, actor: Actor, *, since: datetime | None = None,
                  policy: AccessPolicy = DEFAULT_POLICY) -> list[SubstitutionRow]:
    """The hall's approved substitutions (newest first), each with its filing time."""
    require(actor, READ_SUBSTITUTES, "read substitutions")
    sub = Staff.__table__.alias("sub")
    rep = Staff.__table__.alias("rep")
    query = (select(Substitution, Window.code, sub.c.staff_no, sub.c.name, rep.c.staff_no)
             .join(Window, Window.id == Substitution.window_id).join(sub, sub.c.id == Substitution.substitute_id)
             .outerjoin(rep, rep.c.id == Substitution.replaced_id).where(Substitution.approved.is_(True))
             .order_by(Substitution.starts_at.desc(), Substitution.id.desc()))
    if since is not None:
        query = query.where(Substitution.ends_at >= since)
    return [
        SubstitutionRow(s.id, code, no, name, rep_no, s.starts_at, s.ends_at, s.filed_at,
                        s.filed_at is not None and s.filed_at <= s.starts_at, redact(actor, s.reason, policy))
        for s, code, no, name, rep_no in session.execute(query)
    ]


__all__ = ["SubstitutionRow", "file_substitute_now", "substitutions"]
