"""Flags for inspectors: raised idempotently through a dedupe key, with the evidence a reviewer needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, FlagStatus


def raise_flag(
    session: Session,
    key: str,
    kind: FlagKind,
    *,
    raised_at: datetime,
    summary: str,
    evidence: dict[str, Any],
    severity: str = "minor",
    penalised: bool = True,
    **links: int | None,
) -> tuple[Flag, bool]:
    """Raise a flag unless one with ``key`` exists; refresh the links of an existing one.

    Args:
        key: what the flag is about (kind plus stable ids); raising the same key twice is a no-op.
        links: ``window_id``, ``staff_id``, ``interaction_id``, ``utterance_id``, ``recording_id``,
            ``rating_id``, ``follow_up_id``.

    Returns:
        The flag and whether it was created now.
    """
    flag = session.scalar(select(Flag).where(Flag.dedupe_key == key))
    if flag is not None:
        for name, value in links.items():
            if value is not None and getattr(flag, name) != value:
                setattr(flag, name, value)
        return flag, False
    flag = Flag(
        dedupe_key=key,
        kind=kind,
        severity=severity,
        penalised=penalised,
        raised_at=raised_at,
        summary=summary[:500],
        evidence=evidence,
        status=FlagStatus.OPEN,
        **links,
    )
    session.add(flag)
    return flag, True


def list_flags(session: Session, *, kind: FlagKind | None = None, status: FlagStatus | None = FlagStatus.OPEN, limit: int | None = None) -> list[Flag]:
    """Flags, newest first (read-only)."""
    query = select(Flag).order_by(Flag.raised_at.desc(), Flag.id.desc())
    if kind is not None:
        query = query.where(Flag.kind == kind)
    if status is not None:
        query = query.where(Flag.status == status)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))
