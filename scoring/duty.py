"""Who is on duty at a window at a moment: the roster, overridden by filed substitutes.

Staff attribution never comes from a command-line flag: an utterance belongs to whoever the
roster (and any approved substitution, 替岗) puts at the window at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import RosterEntry, Substitution


@dataclass(frozen=True)
class DutySpan:
    staff_id: int
    starts_at: datetime
    ends_at: datetime
    substitute_for: int | None = None
    is_substitute: bool = False


class DutyTable:
    """The duty spans of one window over a time range, for fast lookups during ingest."""

    def __init__(self, roster: list[DutySpan], substitutes: list[DutySpan]):
        self.roster = sorted(roster, key=lambda s: s.starts_at)
        self.substitutes = sorted(substitutes, key=lambda s: s.starts_at)

    @classmethod
    def load(cls, session: Session, window_id: int, start: datetime, end: datetime) -> "DutyTable":
        """Read the roster and approved substitutions of ``window_id`` overlapping [start, end]."""
        roster = session.execute(
            select(RosterEntry.staff_id, RosterEntry.starts_at, RosterEntry.ends_at).where(
                RosterEntry.window_id == window_id, RosterEntry.starts_at <= end, RosterEntry.ends_at >= start
            )
        ).all()
        subs = session.execute(
            select(Substitution.substitute_id, Substitution.starts_at, Substitution.ends_at, Substitution.replaced_id).where(
                Substitution.window_id == window_id,
                Substitution.approved.is_(True),
                Substitution.starts_at <= end,
                Substitution.ends_at >= start,
            )
        ).all()
        return cls(
            [DutySpan(r[0], r[1], r[2]) for r in roster],
            [DutySpan(s[0], s[1], s[2], substitute_for=s[3], is_substitute=True) for s in subs],
        )

    def on_duty(self, at: datetime) -> list[int]:
        """Every staff id on duty at ``at``: rostered staff, with replaced staff swapped for their substitutes."""
        subs = [s for s in self.substitutes if s.starts_at <= at < s.ends_at]
        replaced = {s.substitute_for for s in subs if s.substitute_for is not None}
        staff = [r.staff_id for r in self.roster if r.starts_at <= at < r.ends_at and r.staff_id not in replaced]
        for s in subs:
            if s.staff_id not in staff:
                staff.append(s.staff_id)
        return staff

    def staff_at(self, at: datetime | None) -> int | None:
        """The staff member serving at ``at``: a substitute first, else the first rostered; None if nobody."""
        if at is None:
            return None
        subs = [s.staff_id for s in self.substitutes if s.starts_at <= at < s.ends_at]
        if subs:
            return subs[0]
        staff = self.on_duty(at)
        return staff[0] if staff else None
