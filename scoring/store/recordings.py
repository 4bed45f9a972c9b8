"""Write a transcribed, matched recording into the store: utterances, interactions, hits, flags.

One recording is written in the caller's transaction, so a crash leaves either nothing or the
whole recording (``status = done``); ingest resumes by redoing recordings that are not done.
Interactions are derived data: :func:`rescore_recording` rebuilds them from the stored
utterances and hits (after a queue import, or with another rulebook) and keeps flags and reviews.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from models.db import (
    Flag,
    FlagKind,
    FlagStatus,
    Interaction,
    QueueCall,
    Recording,
    RecordingStatus,
    Review,
    RuleHitRow,
    Utterance as UtteranceRow,
    Window,
)
from models.domain import Role, RuleFamily, RuleHit, Utterance
from models.rulebook import Rulebook
from models.transcript_search import search_text
from scoring.duty import DutyTable
from scoring.score import InteractionScore, score_interaction
from scoring.store.flag_rows import interaction_flags
from scoring.store.month_totals import forget_month
from scoring.store.repeat_visits import returns_by_first_call
from scoring.segment import MatchedUtterance, QueueCallEvent, Segment, SegmentOptions, segment_utterances

log = logging.getLogger("scoring")


class StoreError(ValueError):
    """Data that cannot be stored; the message names the recording or window and the reason."""


@dataclass
class StoredRecording:
    """What :func:`store_recording` wrote for one recording."""

    recording_id: int
    utterances: int = 0
    interactions: int = 0
    hits: int = 0
    flags: int = 0
    scores: list[float] = field(default_factory=list)


def window_by_code(session: Session, code: str) -> Window:
    """The window named ``code``.

    Raises:
        StoreError: no such window (load the site file first).
    """
    window = session.scalar(select(Window).where(Window.code == code))
    if window is None:
        known = ", ".join(session.scalars(select(Window.code).order_by(Window.code).limit(20)))
        raise StoreError(f"unknown window {code!r}; load the site file first (known: {known or 'none'})")
    return window


def load_calls(session: Session, window_id: int, start: datetime, end: datetime) -> list[QueueCallEvent]:
    """The queue calls of a window in [start, end] as segmentation events (read-only)."""
    rows = session.execute(
        select(QueueCall.id, QueueCall.called_at, QueueCall.ticket_no, QueueCall.issued_at, QueueCall.matter)
        .where(QueueCall.window_id == window_id, QueueCall.called_at >= start, QueueCall.called_at <= end)
        .order_by(QueueCall.called_at)
    ).all()
    return [QueueCallEvent(called_at=r[1], ticket_no=r[2], issued_at=r[3], call_id=r[0], matter=r[4]) for r in rows]


def _absolute(recording_start: datetime | None, u: Utterance) -> datetime | None:
    if u.started_at is not None:
        return u.started_at
    if recording_start is None:
        return None
    return recording_start + timedelta(seconds=u.start_s)


def _with_times(items: Sequence[MatchedUtterance], recording_start: datetime | None) -> list[MatchedUtterance]:
    out = []
    for item in items:
        u = item.utterance
        if u.started_at is None and recording_start is not None:
            item = MatchedUtterance(item.seq, replace(u, started_at=_absolute(recording_start, u)), item.hits, item.abuse, item.cues)
        out.append(item)
    return out


def store_recording(
    session: Session,
    recording: Recording,
    items: Sequence[MatchedUtterance],
    rulebook: Rulebook,
    *,
    duty: DutyTable | None = None,
    calls: Sequence[QueueCallEvent] | None = None,
) -> StoredRecording:
    """Store a matched recording and mark it done.

    Args:
        session: the caller's session, inside a transaction.
        recording: a ``Recording`` row (pending) with window and start time set.
        items: its utterances (``seq`` numbered in recording order) with hits and abuse findings.
        rulebook: scoring rules; its version is stored on every hit and interaction.
        duty: who is on duty; loaded for the recording's time range when None.
        calls: queue calls of the window; loaded when None.

    Returns:
        Counts of what was written.
    """
    items = _with_times(items, recording.started_at)
    duty, calls = _context(session, recording, items, duty, calls, rulebook.post.max_absence_minutes)
    # Any rows of an earlier try of this recording (written outside a transaction) go first.
    session.execute(delete(UtteranceRow).where(UtteranceRow.recording_id == recording.id))
    session.execute(delete(Interaction).where(Interaction.recording_id == recording.id))
    forget_month(session, recording.started_at)  # its month's stored totals no longer hold
    # Interactions first, so utterances and hits are inserted with their interaction id
    # (one INSERT each, no per-interaction UPDATEs: this is the hot path of ingest).
    scored = _score_segments(session, recording, items, rulebook, duty, calls)
    interaction_ids = _insert_interactions(session, recording, scored)
    by_seq = {item.seq: iid for (seg, _s, _st), iid in zip(scored, interaction_ids) for item in seg.items}
    utterance_ids = _insert_utterances(session, recording, items, duty, by_seq)
    _insert_hits(session, items, utterance_ids, rulebook, by_seq)
    result = StoredRecording(recording_id=recording.id, utterances=len(items), interactions=len(interaction_ids))
    result.hits = sum(len(i.hits) + len(i.abuse) + len(i.cues) for i in items)
    result.scores = [score.score for _seg, score, _st in scored]
    result.flags = _raise_interaction_flags(session, recording, scored, interaction_ids, utterance_ids, rulebook.retort.rule)
    recording.status = RecordingStatus.DONE
    recording.failure_reason = None
    recording.rulebook_version = rulebook.version
    recording.finished_at = datetime.now().replace(microsecond=0)
    if items and recording.duration_s is None:
        recording.duration_s = max(i.utterance.end_s for i in items)
    session.flush()
    return result


def _context(
    session: Session,
    recording: Recording,
    items: Sequence[MatchedUtterance],
    duty: DutyTable | None,
    calls: Sequence[QueueCallEvent] | None,
    max_absence_minutes: int = 0,
) -> tuple[DutyTable, Sequence[QueueCallEvent]]:
    times = [i.utterance.started_at for i in items if i.utterance.started_at is not None]
    if recording.window_id is None or not times:
        return duty or DutyTable([], []), calls or ()
    start, end = min(times) - timedelta(hours=1), max(times) + timedelta(hours=1)
    if duty is None:
        duty = DutyTable.load(session, recording.window_id, start, end, presence_tolerance_minutes=max_absence_minutes)
    if calls is None:
        calls = load_calls(session, recording.window_id, start, end)
    return duty, calls


def _insert_utterances(
    session: Session, recording: Recording, items: Sequence[MatchedUtterance], duty: DutyTable, interaction_of: dict[int, int]
) -> dict[int, int]:
    if not items:
        return {}
    rows = []
    for item in items:
        u = item.utterance
        rows.append(
            {
                "recording_id": recording.id,
                "seq": item.seq,
                "interaction_id": interaction_of.get(item.seq),
                "start_s": u.start_s,
                "end_s": u.end_s,
                "started_at": u.started_at,
                "text": u.text,
                "search_text": search_text(u.text),  # transcript search index (models.transcript_search)
                "role": u.role,
                "role_confidence": u.role_confidence,
                "channel": u.channel,
                "confidence": u.confidence,
                "staff_id": duty.staff_at(u.started_at) if u.role is not Role.CITIZEN else None,
            }
        )
    result = session.execute(
        insert(UtteranceRow).returning(UtteranceRow.id, UtteranceRow.seq, sort_by_parameter_order=True), rows
    )
    return {seq: uid for uid, seq in result.all()}


def _insert_hits(
    session: Session, items: Sequence[MatchedUtterance], utterance_ids: dict[int, int], rulebook: Rulebook, interaction_of: dict[int, int]
) -> None:
    rows = []
    for item in items:
        for hit in (*item.hits, *item.abuse, *item.cues):
            rows.append(
                {
                    "utterance_id": utterance_ids[item.seq],
                    "interaction_id": interaction_of.get(item.seq),
                    "rule_id": hit.rule_id,
                    "family": hit.family,
                    "method": hit.method,
                    "score": float(hit.score),
                    "span_start": hit.start,
                    "span_end": hit.end,
                    "evidence": dict(hit.evidence),
                    "rulebook_version": hit.rulebook_version or rulebook.version,
                    "classifier_version": hit.classifier_version,
                }
            )
    if rows:
        session.execute(insert(RuleHitRow), rows)


def _score_segments(
    session: Session, recording: Recording, items: Sequence[MatchedUtterance], rulebook: Rulebook, duty: DutyTable,
    calls: Sequence[QueueCallEvent],
) -> list[tuple[Segment, InteractionScore, int | None]]:
    segments = segment_utterances(items, calls, SegmentOptions.from_rulebook(rulebook))
    window = session.get(Window, recording.window_id) if recording.window_id is not None else None
    returns = returns_by_first_call(session, [s.queue_call.call_id for s in segments if s.queue_call and s.queue_call.call_id])
    scored = []
    for seg in segments:
        wait = seg.queue_call.wait_minutes if seg.queue_call else None
        back = returns.get(seg.queue_call.call_id, []) if seg.queue_call else []
        score = score_interaction(seg, rulebook, wait_minutes=wait, returns=back, window_name=window.name if window else None)
        scored.append((seg, score, duty.staff_at(seg.started_at)))
    return scored


def _insert_interactions(session: Session, recording: Recording, scored: list[tuple[Segment, InteractionScore, int | None]]) -> list[int]:
    rows = [
        {
            "recording_id": recording.id,
            "seq": seg.seq,
            "window_id": recording.window_id,
            "staff_id": staff_id,
            "start_s": seg.start_s,
            "end_s": seg.end_s,
            "started_at": seg.started_at,
            "ended_at": seg.ended_at,
            "ticket_no": seg.queue_call.ticket_no if seg.queue_call else None,
            "queue_call_id": seg.queue_call.call_id if seg.queue_call else None,
            "served": score.served,
            "has_greeting": score.has_greeting,
            "has_farewell": score.has_farewell,
            "score": score.score,
            "explanation": [line.as_json() for line in score.lines],
            "rulebook_version": score.rulebook_version,
            "split_reason": seg.split_reason,
        }
        for seg, score, staff_id in scored
    ]
    if not rows:
        return []
    return [r[0] for r in session.execute(insert(Interaction).returning(Interaction.id, sort_by_parameter_order=True), rows).all()]


def _rebuild_interactions(
    session: Session,
    recording: Recording,
    items: Sequence[MatchedUtterance],
    utterance_ids: dict[int, int],
    rulebook: Rulebook,
    duty: DutyTable,
    calls: Sequence[QueueCallEvent],
) -> StoredRecording:
    # Re-scoring: utterances and hits exist; link them to the new interactions.
    scored = _score_segments(session, recording, items, rulebook, duty, calls)
    ids = _insert_interactions(session, recording, scored)
    for (seg, _score, _staff), iid in zip(scored, ids):
        uids = [utterance_ids[i.seq] for i in seg.items]
        session.execute(update(UtteranceRow).where(UtteranceRow.id.in_(uids)).values(interaction_id=iid))
        session.execute(update(RuleHitRow).where(RuleHitRow.utterance_id.in_(uids)).values(interaction_id=iid))
    result = StoredRecording(recording_id=recording.id, utterances=len(items), interactions=len(ids))
    result.hits = sum(len(i.hits) + len(i.abuse) + len(i.cues) for i in items)
    result.scores = [score.score for _seg, score, _st in scored]
    result.flags = _raise_interaction_flags(session, recording, scored, ids, utterance_ids, rulebook.retort.rule)
    return result


def _raise_interaction_flags(
    session: Session,
    recording: Recording,
    scored: list[tuple[Segment, InteractionScore, int | None]],
    interaction_ids: list[int],
    utterance_ids: dict[int, int],
    retort_rule: str | None = None,
) -> int:
    wanted: list[dict] = []
    for (seg, score, staff_id), iid in zip(scored, interaction_ids):
        wanted += interaction_flags(recording, seg, score, staff_id, iid, utterance_ids, retort_rule)
    if not wanted:
        return 0
    existing = {
        key: fid
        for key, fid in session.execute(
            select(Flag.dedupe_key, Flag.id).where(Flag.dedupe_key.in_([w["dedupe_key"] for w in wanted]))
        ).all()
    }
    new = [w for w in wanted if w["dedupe_key"] not in existing]
    for w in wanted:
        if w["dedupe_key"] in existing:
            session.execute(update(Flag).where(Flag.id == existing[w["dedupe_key"]]).values(interaction_id=w["interaction_id"]))
    if new:
        session.execute(insert(Flag), new)
    return len(new)


def load_matched(session: Session, recording_id: int) -> list[MatchedUtterance]:
    """A stored recording's utterances with their hits, as the scorer takes them (read-only)."""
    rows = session.scalars(select(UtteranceRow).where(UtteranceRow.recording_id == recording_id).order_by(UtteranceRow.seq)).all()
    hits: dict[int, list[RuleHitRow]] = {}
    for h in session.scalars(
        select(RuleHitRow).join(UtteranceRow).where(UtteranceRow.recording_id == recording_id).order_by(RuleHitRow.id)
    ):
        hits.setdefault(h.utterance_id, []).append(h)
    out = []
    for r in rows:
        u = Utterance(
            text=r.text, role=r.role, start_s=r.start_s, end_s=r.end_s, started_at=r.started_at, channel=r.channel,
            confidence=r.confidence, role_confidence=r.role_confidence,
        )
        domain_hits = [
            RuleHit(h.rule_id, h.family, h.score, h.span_start, h.span_end, h.method, h.rulebook_version, dict(h.evidence or {}),
                    h.classifier_version)
            for h in hits.get(r.id, [])
        ]
        out.append(
            MatchedUtterance(
                r.seq, u,
                tuple(h for h in domain_hits if h.rule_id != "citizen.abuse" and h.family is not RuleFamily.SITUATION),
                tuple(h for h in domain_hits if h.rule_id == "citizen.abuse"),
                tuple(h for h in domain_hits if h.family is RuleFamily.SITUATION),
            )
        )
    return out


def rescore_recording(session: Session, recording: Recording, rulebook: Rulebook) -> StoredRecording:
    """Rebuild a done recording's interactions from its stored utterances and hits.

    Used after a queue import (new split cues and waits) or with another rulebook. Flags keep
    their ids and reviews, and reviews are linked to the rebuilt interactions (so the points an
    inspector gave back still count); open missing-courtesy, situational and situation-phrase flags
    that no longer apply (a queue import changed the wait) and were never reviewed are removed.
    """
    items = load_matched(session, recording.id)
    utterance_ids = {
        seq: uid for uid, seq in session.execute(select(UtteranceRow.id, UtteranceRow.seq).where(UtteranceRow.recording_id == recording.id))
    }
    duty, calls = _context(session, recording, items, None, None, rulebook.post.max_absence_minutes)
    reviews = _reviews_on(session, recording.id)
    session.execute(update(UtteranceRow).where(UtteranceRow.recording_id == recording.id).values(interaction_id=None))
    session.execute(delete(Interaction).where(Interaction.recording_id == recording.id))
    forget_month(session, recording.started_at)
    before = set(
        session.scalars(
            select(Flag.id).where(
                Flag.recording_id == recording.id,
                Flag.kind.in_([FlagKind.MISSING_COURTESY, FlagKind.SITUATIONAL, FlagKind.SITUATION_PHRASE]),
                Flag.status == FlagStatus.OPEN,
                ~Flag.reviews.any(),
            )
        )
    )
    result = _rebuild_interactions(session, recording, items, utterance_ids, rulebook, duty, calls)
    _relink_review_flags(session, recording.id)
    _relink_repeat_visits(session, recording.id)
    _relink_reviews(session, recording.id, reviews)
    stale = set(session.scalars(select(Flag.id).where(Flag.id.in_(before), Flag.interaction_id.is_(None))))
    if stale:
        session.execute(delete(Flag).where(Flag.id.in_(stale)))
    recording.rulebook_version = rulebook.version
    session.flush()
    return result


def _relink_review_flags(session: Session, recording_id: int) -> None:
    """Flags an inspector's sampled review raised (no rebuild raises them again) follow their line, or their time span, to the rebuilt interactions.

    Their reviews follow them, so the points such a flag took keep counting.
    """
    # populate_existing: the database unlinked them (ON DELETE SET NULL), a flag already loaded still
    # holds its old interaction id, which a rebuilt interaction may get again (no change, no UPDATE)
    orphaned = select(Flag).where(Flag.recording_id == recording_id, Flag.interaction_id.is_(None)).execution_options(populate_existing=True)
    orphans = [f for f in session.scalars(orphaned)
               if (f.evidence or {}).get("source") == "sample_review"]
    for flag in orphans:
        if flag.utterance_id is not None:
            flag.interaction_id = session.scalar(select(UtteranceRow.interaction_id).where(UtteranceRow.id == flag.utterance_id))
        else:
            at_s = float((flag.evidence or {}).get("start_s") or 0.0)
            flag.interaction_id = session.scalar(
                select(Interaction.id).where(Interaction.recording_id == recording_id, Interaction.start_s <= at_s, Interaction.end_s >= at_s).limit(1))
    session.flush()


def _relink_repeat_visits(session: Session, recording_id: int) -> None:
    """Repeat-visit flags follow the rebuilt interactions of their two queue tickets (key ``repeat_visit:q<first>:q<return>``)."""
    rows = session.execute(select(Interaction.id, Interaction.queue_call_id, Interaction.staff_id)
                           .where(Interaction.recording_id == recording_id, Interaction.queue_call_id.is_not(None))).all()
    for iid, call_id, staff_id in rows:
        session.execute(update(Flag).where(Flag.kind == FlagKind.REPEAT_VISIT, Flag.dedupe_key.like(f"repeat_visit:q{call_id}:q%"))
                        .values(interaction_id=iid, staff_id=staff_id))
        session.execute(update(Flag).where(Flag.kind == FlagKind.REPEAT_VISIT, Flag.dedupe_key.like(f"repeat_visit:q%:q{call_id}"))
                        .values(linked_interaction_id=iid))
    session.flush()


def _reviews_on(session: Session, recording_id: int) -> list[tuple[int, int | None, float, float]]:
    # Reviews of the recording's interactions, with the time span of the interaction they were on.
    return [
        tuple(row)
        for row in session.execute(
            select(Review.id, Review.flag_id, Interaction.start_s, Interaction.end_s)
            .join(Interaction, Interaction.id == Review.interaction_id)
            .where(Interaction.recording_id == recording_id)
        )
    ]


def _relink_reviews(session: Session, recording_id: int, reviews: list[tuple[int, int | None, float, float]]) -> None:
    """Point reviews at the rebuilt interactions (deleting the old ones left them on none).

    A review of one of the recording's flags follows its flag (which re-scoring re-linked by its
    dedupe key; none when the flag no longer applies, as its points are no longer deducted);
    any other review goes to the rebuilt interaction overlapping its old one most.
    """
    if not reviews:
        return
    flags = dict(session.execute(select(Flag.id, Flag.interaction_id).where(Flag.recording_id == recording_id)).all())
    spans = session.execute(select(Interaction.id, Interaction.start_s, Interaction.end_s).where(Interaction.recording_id == recording_id)).all()
    for review_id, flag_id, start_s, end_s in reviews:
        if flag_id in flags:
            target = flags[flag_id]
        else:
            overlaps = [(min(end_s, e) - max(start_s, s), iid) for iid, s, e in spans if min(end_s, e) > max(start_s, s)]
            target = max(overlaps, key=lambda o: o[0])[1] if overlaps else None
        session.execute(update(Review).where(Review.id == review_id).values(interaction_id=target))


__all__ = [
    "StoreError",
    "StoredRecording",
    "load_calls",
    "load_matched",
    "rescore_recording",
    "store_recording",
    "window_by_code",
]
