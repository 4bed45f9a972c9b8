"""Who is on duty at a window at a moment: the window camera, filed substitutes, the roster.

Staff attribution never comes from a command-line flag: an utterance belongs to whoever is at
the window at that moment. Evidence, strongest first: the window camera's presence samples
(attendance, face recognition) near that moment, within ``[post].max_absence_minutes``; an
approved substitution (替岗); the duty roster.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

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

    def __init__(
        self,
        roster: list[DutySpan],
        substitutes: list[DutySpan],
        presence: list[tuple[datetime, list[int]]] | None = None,
        presence_tolerance: timedelta = timedelta(0),
    ):
        self.roster = sorted(roster, key=lambda s: s.starts_at)
        self.substitutes = sorted(substitutes, key=lambda s: s.starts_at)
        self.presence = sorted(presence or [], key=lambda p: p[0])
        self.presence_tolerance = presence_tolerance

    @classmethod
    def load(
        cls, session: Session, window_id: int, start: datetime, end: datetime, *, presence_tolerance_minutes: int = 0
    ) -> "DutyTable":
        """Read the roster, approved substitutions and camera presence of ``window_id`` around [start, end].

        Args:
            presence_tolerance_minutes: how far from a moment a presence sample still says who
                is at the window (the rulebook's ``[post].max_absence_minutes``); 0 ignores the camera.
        """
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
        tolerance = timedelta(minutes=presence_tolerance_minutes)
        return cls(
            [DutySpan(r[0], r[1], r[2]) for r in roster],
            [DutySpan(s[0], s[1], s[2], substitute_for=s[3], is_substitute=True) for s in subs],
            _presence(session, window_id, start - tolerance, end + tolerance) if tolerance else [],
            tolerance,
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

    def seen_at(self, at: datetime) -> list[int]:
        """Staff the window camera recognised in the sample nearest ``at`` (within the tolerance)."""
        if not self.presence:
            return []
        i = bisect.bisect_left([p[0] for p in self.presence], at)
        near = [self.presence[j] for j in (i - 1, i) if 0 <= j < len(self.presence)]
        best = min(near, key=lambda p: abs(p[0] - at))
        return best[1] if abs(best[0] - at) <= self.presence_tolerance else []

    def staff_at(self, at: datetime | None) -> int | None:
        """The staff member serving at ``at``: whom the camera saw (preferring those on duty),
        else a substitute, else the first rostered; None if nobody."""
        if at is None:
            return None
        seen = self.seen_at(at)
        if seen:
            on_duty = [s for s in seen if s in self.on_duty(at)]
            return (on_duty or seen)[0]
        subs = [s.staff_id for s in self.substitutes if s.starts_at <= at < s.ends_at]
        if subs:
            return subs[0]
        staff = self.on_duty(at)
        return staff[0] if staff else None


def _presence(session: Session, window_id: int, start: datetime, end: datetime) -> list[tuple[datetime, list[int]]]:
    # The attendance tables are optional: a site without window cameras has none.
    try:
        from models.attendance_db import PresenceSampleRow
    except ImportError:  # pragma: no cover - attendance_db ships with windowqa
        return []
    from models.db import Staff

    ids = dict(session.execute(select(Staff.staff_no, Staff.id)).all())
    rows = session.execute(
        select(PresenceSampleRow.at, PresenceSampleRow.staff_nos)
        .where(PresenceSampleRow.window_id == window_id, PresenceSampleRow.at >= start, PresenceSampleRow.at <= end)
        .order_by(PresenceSampleRow.at)
    ).all()
    return [(at, [ids[str(no)] for no in (nos or []) if str(no) in ids]) for at, nos in rows]
