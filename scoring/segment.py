"""Split a window's continuous stream of utterances into interactions (one citizen served).

Cues, strongest first: a farewell by staff closes an interaction (the citizen's reply within
``farewell_tail_seconds`` still belongs to it); a silence of ``interaction_gap_seconds`` closes
it; a queue call (叫号) between two utterances starts a new one; a staff greeting after the
citizen has spoken starts a new one (role alternation: a new citizen is being greeted; not the rest
of a telephone greeting the ASR cut off the call's opening line); so
does answering or placing a telephone call when no citizen is being served (no citizen spoke and
staff greeted nobody at the counter; 七.2: a call is served on its own). A call while a citizen is being served stays inside that interaction: it is
part of how the citizen was served (二.4, :mod:`scoring.conduct`).
All thresholds come from the rulebook's ``[scoring]`` table.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from models.domain import Role, RuleHit, Utterance
from models.rulebook import Rulebook

GREET_RULE = "courtesy.greet"
FAREWELL_RULE = "courtesy.farewell"
PHONE_OPENING_RULES = ("phone.greet", "phone.outgoing")


@dataclass(frozen=True)
class MatchedUtterance:
    """An utterance with its place in the recording and what the matcher found in it.

    ``hits`` are rule hits (counted for staff only); ``abuse`` are ``citizen.abuse`` findings;
    ``cues`` are cues of 七.1 situations in what either side says (``situation.<name>``).
    """

    seq: int
    utterance: Utterance
    hits: tuple[RuleHit, ...] = ()
    abuse: tuple[RuleHit, ...] = ()
    cues: tuple[RuleHit, ...] = ()

    @property
    def by_staff(self) -> bool:
        """Whether what was said counts for or against staff (citizens never do)."""
        return self.utterance.role is not Role.CITIZEN

    def has_rule(self, rule_id: str) -> bool:
        return self.by_staff and any(h.rule_id == rule_id for h in self.hits)


@dataclass(frozen=True)
class QueueCallEvent:
    """A call (叫号) of ticket ``ticket_no`` to the window at ``called_at`` (local time)."""

    called_at: datetime
    ticket_no: str
    issued_at: datetime | None = None
    call_id: int | None = None
    matter: str | None = None  # the queue's 事项: what the citizen came for

    @property
    def wait_minutes(self) -> float | None:
        """How long the citizen waited between taking the ticket and being called."""
        if self.issued_at is None:
            return None
        return (self.called_at - self.issued_at).total_seconds() / 60.0


@dataclass(frozen=True)
class SegmentOptions:
    """Thresholds of the segmentation, in seconds."""

    gap_s: float = 45.0
    farewell_tail_s: float = 8.0

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook) -> "SegmentOptions":
        return cls(
            gap_s=float(rulebook.scoring.interaction_gap_seconds),
            farewell_tail_s=float(rulebook.scoring.farewell_tail_seconds),
        )


@dataclass
class Segment:
    """One interaction's utterances; ``split_reason`` says what ended it."""

    seq: int
    items: list[MatchedUtterance] = field(default_factory=list)
    split_reason: str = "end"
    queue_call: QueueCallEvent | None = None
    options: SegmentOptions = field(default_factory=SegmentOptions)

    @property
    def start_s(self) -> float:
        return self.items[0].utterance.start_s

    @property
    def end_s(self) -> float:
        return max(item.utterance.end_s for item in self.items)

    @property
    def started_at(self) -> datetime | None:
        return self.items[0].utterance.started_at

    @property
    def ended_at(self) -> datetime | None:
        first = self.items[0].utterance
        if first.started_at is None:
            return None
        return first.started_at + timedelta(seconds=self.end_s - first.start_s)

    @property
    def served(self) -> bool:
        """A citizen was there: someone spoke as a citizen, or staff greeted someone."""
        return any(i.utterance.role is Role.CITIZEN or i.has_rule(GREET_RULE) for i in self.items)


def _abs_start(item: MatchedUtterance) -> datetime | None:
    return item.utterance.started_at


def segment_utterances(
    items: Sequence[MatchedUtterance],
    calls: Sequence[QueueCallEvent] = (),
    options: SegmentOptions | None = None,
) -> list[Segment]:
    """Split one recording's utterances into interactions.

    Args:
        items: the utterances of one recording with their hits, in any order.
        calls: the window's queue calls (any time range; only those inside the recording count).
        options: thresholds; defaults match the shipped rulebook.

    Returns:
        Segments in time order, numbered from 0; each carries the queue call it began with.

    Example:
        >>> from models.domain import Utterance, Role
        >>> u = [MatchedUtterance(0, Utterance("你好", Role.CITIZEN, 0, 1)),
        ...      MatchedUtterance(1, Utterance("好的", Role.CITIZEN, 100, 101))]
        >>> [s.split_reason for s in segment_utterances(u)]
        ['silence', 'end']
    """
    options = options or SegmentOptions()
    ordered = sorted(items, key=lambda i: (i.utterance.start_s, i.seq))
    call_list = sorted(calls, key=lambda c: c.called_at)
    call_times = [c.called_at for c in call_list]
    segments: list[Segment] = []
    current: list[MatchedUtterance] = []
    current_end_s = 0.0
    farewell_end_s: float | None = None
    has_citizen = greeted = False

    def close(reason: str) -> None:
        segments.append(Segment(seq=len(segments), items=current, split_reason=reason, options=options))

    for item in ordered:
        u = item.utterance
        greets = item.has_rule(GREET_RULE)
        opens_call = any(item.has_rule(r) for r in PHONE_OPENING_RULES)
        if current:
            gap_s = u.start_s - current_end_s
            reason = None
            if farewell_end_s is not None:
                if greets or opens_call or u.start_s - farewell_end_s > options.farewell_tail_s:
                    reason = "farewell"
            elif gap_s >= options.gap_s:
                reason = "silence"
            elif _call_between(call_times, _abs_start(current[-1]), _abs_start(item)):
                reason = "queue_call"
            elif greets and has_citizen and not _continues_call_opening(current[-1], item):
                reason = "greeting"
            elif opens_call and not (has_citizen or greeted):
                reason = "phone_call"
            if reason:
                close(reason)
                current, current_end_s, farewell_end_s, has_citizen, greeted = [], 0.0, None, False, False
        current.append(item)
        current_end_s = max(current_end_s, u.end_s)
        has_citizen = has_citizen or u.role is Role.CITIZEN
        # staff greeted someone at the counter (not a call's greeting): a call after it is made while serving,
        # also when noise lost every line of the citizen's
        greeted = greeted or (greets and not opens_call)
        if item.has_rule(FAREWELL_RULE):
            farewell_end_s = u.end_s
    if current:
        close("end")
    _assign_calls(segments, call_list, options)
    return segments


def _continues_call_opening(previous: MatchedUtterance, item: MatchedUtterance) -> bool:
    # The ASR cuts a telephone greeting in two now and then (您好这里是医保窗口 | 请问有什么可以帮您):
    # a greeting by staff right after staff opened a call is the rest of that call's greeting, no new citizen.
    return item.by_staff and any(previous.has_rule(r) for r in PHONE_OPENING_RULES)


def _call_between(call_times: list[datetime], after: datetime | None, until: datetime | None) -> bool:
    if after is None or until is None or not call_times:
        return False
    i = bisect.bisect_right(call_times, after)
    return i < len(call_times) and call_times[i] <= until


def _assign_calls(segments: list[Segment], calls: list[QueueCallEvent], options: SegmentOptions) -> None:
    # A call precedes the citizen's arrival at the window: give each segment the earliest unused
    # call from shortly before its start until its end.
    used: set[int] = set()
    for seg in segments:
        start, end = seg.started_at, seg.ended_at
        if start is None or end is None:
            continue
        lead = timedelta(seconds=options.gap_s)
        for i, call in enumerate(calls):
            if i in used or call.called_at < start - lead:
                continue
            if call.called_at > end:
                break
            seg.queue_call = call
            used.add(i)
            break

