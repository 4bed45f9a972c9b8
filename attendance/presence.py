"""Presence at the window during service hours (三.3, 三.8) from periodic camera frames.

Each :class:`~models.attendance.PresenceSample` says which enrolled staff a window camera saw
at one moment. From a window's samples:

- a staff member unseen for longer than the rulebook's ``post.max_absence_minutes`` (10) is
  flagged ``AWAY_TOO_LONG`` with the first unseen and the next seen time;
- a window with two or more expected staff, none of them seen, is flagged ``ALL_STAFF_AWAY``
  (三.8 两人以上窗口工作人员不能同时离岗) when that lasts at least ``min_all_away_minutes``.

Only samples inside the day's service sessions count, and a gap between samples longer than
``max_sample_gap_s`` (camera down) ends an absence instead of stretching it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from models.attendance import PresenceFlag, PresenceIssue, PresenceSample
from models.rulebook import Rulebook

from attendance.schedule import sessions_for
from models.workdays import WorkCalendar


@dataclass(frozen=True)
class PresenceOptions:
    """How samples are read.

    Attributes:
        max_sample_gap_s: samples further apart than this are not joined into one absence.
        min_all_away_minutes: an everyone-away stretch shorter than this (one frame with heads
            turned, a passing queue) is not flagged.
    """

    max_sample_gap_s: float = 180.0
    min_all_away_minutes: float = 2.0


def _session_key(at: datetime, rulebook: Rulebook) -> tuple[date, int] | None:
    for i, s in enumerate(sessions_for(at.date(), rulebook.attendance)):
        if s.start <= at <= s.end:
            return (at.date(), i)
    return None


def _absences(
    samples: Sequence[PresenceSample], seen, gap: timedelta
) -> list[tuple[datetime, datetime]]:
    """Stretches where ``seen(sample)`` is False: (first unseen sample, next seen or last sample)."""
    out = []
    start: datetime | None = None
    prev: datetime | None = None
    for s in samples:
        if prev is not None and s.at - prev > gap and start is not None:
            out.append((start, prev))  # the camera went quiet: close the absence at the last sample
            start = None
        if seen(s):
            if start is not None:
                out.append((start, s.at))
                start = None
        elif start is None:
            start = s.at
        prev = s.at
    if start is not None and prev is not None:
        out.append((start, prev))
    return out


def presence_flags(
    samples: Iterable[PresenceSample],
    expected_staff: Mapping[str, Sequence[str]],
    rulebook: Rulebook,
    calendar: WorkCalendar | None = None,
    options: PresenceOptions | None = None,
) -> list[PresenceFlag]:
    """Flag absences from the post seen by window cameras.

    Args:
        samples: camera samples of any windows, any order.
        expected_staff: window id -> staff expected at it (rostered and not on leave; a
            substitute in place of the person they replace).
        rulebook: ``post.max_absence_minutes``, ``post.forbid_all_staff_absent`` and the
            service sessions.
        calendar: when given, samples on non-working days are ignored.
        options: sampling tolerances.

    Returns:
        Flags ordered by window and start time.
    """
    options = options or PresenceOptions()
    limit = timedelta(minutes=rulebook.post.max_absence_minutes)
    all_away_min = timedelta(minutes=options.min_all_away_minutes)
    gap = timedelta(seconds=options.max_sample_gap_s)
    grouped: dict[tuple[str, tuple[date, int]], list[PresenceSample]] = defaultdict(list)
    for s in samples:
        if calendar is not None and not calendar.is_working(s.at.date()):
            continue
        key = _session_key(s.at, rulebook)
        if key is not None:
            grouped[(s.window_id, key)].append(s)
    flags: list[PresenceFlag] = []
    for (window_id, _), group in sorted(grouped.items()):
        group.sort(key=lambda s: s.at)
        staff = list(expected_staff.get(window_id, ()))
        for sid in staff:
            for start, end in _absences(group, lambda s, sid=sid: sid in s.staff_present, gap):
                if end - start > limit:
                    flags.append(PresenceFlag(window_id, PresenceIssue.AWAY_TOO_LONG, start, end, (sid,)))
        if rulebook.post.forbid_all_staff_absent and len(staff) >= 2:
            for start, end in _absences(group, lambda s: bool(s.staff_present & set(staff)), gap):
                if end - start >= all_away_min:
                    flags.append(PresenceFlag(window_id, PresenceIssue.ALL_STAFF_AWAY, start, end, tuple(staff)))
    flags.sort(key=lambda f: (f.window_id, f.start, f.issue.value))
    return flags
