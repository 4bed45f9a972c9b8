"""One whole interaction as a reviewer sees it: every line, the hits, the required phrases, every lost point, audio from any line.

Opened from transcript search at the found line, and by the sampled review (抽检) for the
interaction under review. Inspectors, managers and admins may open any interaction; a staff
member only their own (another's reads as missing, as with flags). Texts are redacted for the
actor; audio is cut here (:mod:`scoring.access.audio`) from the chosen line to the interaction's
end, for the roles that may hear recordings, and hearing it is audited once per line
(:func:`record_line_play`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, Interaction, Recording, RuleHitRow, Staff, UserRole, Utterance, Window
from models.rulebook import Rulebook
from scoring.access.audio import DEFAULT_MARGIN_S, MAX_CLIP_S, AudioClip, cut_clip
from scoring.access.flags import HitSpan, TranscriptLine, _resolve_audio
from scoring.access.policy import DEFAULT_POLICY, FLAG_KIND_LABELS, FLAG_STATUS_LABELS, READ_ALL_FLAGS, AccessPolicy, NotFound, redact, require
from scoring.accounts import Actor, audit
from scoring.effective import effective_score, score_adjustments
from scoring.score import REQUIRED_COURTESY_IDS, ScoreLine


@dataclass(frozen=True)
class ViewHit:
    """A hit of the system in the interaction: its rule, 0-based ``line`` and the flag it raised (if any)."""

    hit_id: int
    rule_id: str
    family: str
    line: int
    utterance_seq: int
    flag_id: int | None
    flag_status: str | None


@dataclass(frozen=True)
class RequiredPhrase:
    """A required phrase (问候, 道别): said at ``line``, not said, or not required (``said`` None: nobody was served)."""

    rule_id: str
    said: bool | None
    line: int | None


@dataclass(frozen=True)
class LostPoints:
    """One deduction of the score (a line of its explanation, redacted) and the flag it raised."""

    rule_id: str | None
    points: float
    reason: str
    line: int | None
    flag_id: int | None


@dataclass(frozen=True)
class ViewFlag:
    id: int
    kind: str
    kind_label: str
    status_label: str
    rule_id: str | None
    line: int | None


@dataclass(frozen=True)
class InteractionView:
    """A whole interaction; ``lines[highlight]`` is the line it was opened at (``flagged`` set on it)."""

    interaction_id: int
    recording_id: int
    started_at: datetime | None
    ended_at: datetime | None
    start_s: float
    end_s: float
    window: str | None
    staff_no: str | None
    staff_name: str | None
    served: bool
    score: float
    effective_score: float
    lines: tuple[TranscriptLine, ...]
    hits: tuple[ViewHit, ...]
    required: tuple[RequiredPhrase, ...]
    lost: tuple[LostPoints, ...]
    flags: tuple[ViewFlag, ...]
    highlight: int | None
    can_hear: bool  # the actor's role may hear recordings


def visible_interaction(session: Session, actor: Actor, interaction_id: int) -> Interaction:
    """The interaction if the actor may open it (staff: their own; another's reads as missing).

    Raises:
        NotFound: no such interaction, or (staff) not one they served.
        AccessDenied: a role that reads no interactions.
    """
    interaction = session.get(Interaction, int(interaction_id))
    if actor.role is UserRole.STAFF:
        if interaction is None or actor.staff_id is None or interaction.staff_id != actor.staff_id:
            raise NotFound(f"no interaction {interaction_id}")
        return interaction
    require(actor, READ_ALL_FLAGS, "open interactions")
    if interaction is None:
        raise NotFound(f"no interaction {interaction_id}")
    return interaction


def _required(interaction: Interaction, rulebook: Rulebook, line_of: dict[int, int]) -> tuple[RequiredPhrase, ...]:
    # what the scorer decided, from its explanation: said at a line, missing (a deduction), or not required
    lines = [ScoreLine.from_json(row) for row in interaction.explanation or []]
    out = []
    for rule in rulebook.required_rules:
        mine = [line for line in lines if line.rule_id == rule.id]
        said = next((line for line in mine if line.utterance_seq is not None and line.points >= 0), None)
        if said is not None:
            out.append(RequiredPhrase(rule.id, True, line_of.get(said.utterance_seq)))
        elif any(line.points < 0 for line in mine):
            out.append(RequiredPhrase(rule.id, False, None))
        else:
            out.append(RequiredPhrase(rule.id, None if not interaction.served else False, None))
    return tuple(out)


def _flags(session: Session, actor: Actor, interaction: Interaction) -> list[Flag]:
    query = select(Flag).where(Flag.interaction_id == interaction.id).order_by(Flag.id)
    if actor.role is UserRole.STAFF:
        query = query.where(Flag.staff_id == actor.staff_id)
    return list(session.scalars(query))


def _lost(actor: Actor, interaction: Interaction, flags: list[Flag], line_of: dict[int, int], seq_of_uid: dict[int, int],
          policy: AccessPolicy) -> tuple[LostPoints, ...]:
    # the flag of each deduction line, found as scoring.access.reviews.score_restore finds the line of a flag
    by_rule_line: dict[tuple[str | None, int | None], int] = {}
    for f in flags:
        ev = f.evidence or {}
        if f.kind is FlagKind.MISSING_COURTESY:
            for rule_id in REQUIRED_COURTESY_IDS:
                by_rule_line.setdefault((rule_id, None), f.id)
        elif f.kind is FlagKind.SITUATIONAL:
            by_rule_line.setdefault((ev.get("rule_id"), ev.get("line_seq")), f.id)
        elif f.kind is FlagKind.FORBIDDEN:
            by_rule_line.setdefault((ev.get("original_rule_id", ev.get("rule_id")), seq_of_uid.get(f.utterance_id)), f.id)
    out = []
    for line in (ScoreLine.from_json(row) for row in interaction.explanation or []):
        if line.points < 0:
            out.append(LostPoints(line.rule_id, -line.points, redact(actor, line.reason, policy) or "",
                                  line_of.get(line.utterance_seq) if line.utterance_seq is not None else None,
                                  by_rule_line.get((line.rule_id, line.utterance_seq))))
    return tuple(out)


def interaction_view(session: Session, actor: Actor, interaction_id: int, rulebook: Rulebook, *, line: int | None = None,
                     policy: AccessPolicy = DEFAULT_POLICY) -> InteractionView:
    """The whole interaction, opened at 0-based ``line`` (highlighted), as ``actor`` may see it.

    Raises:
        NotFound: no such interaction, or (staff) not one they served.
        AccessDenied: a role that reads no interactions.
    """
    interaction = visible_interaction(session, actor, interaction_id)
    utterances = session.scalars(select(Utterance).where(Utterance.interaction_id == interaction.id).order_by(Utterance.seq)).all()
    line_of = {u.seq: i for i, u in enumerate(utterances)}
    line_of_uid = {u.id: i for i, u in enumerate(utterances)}
    seq_of_uid = {u.id: u.seq for u in utterances}
    highlight = line if line is not None and 0 <= line < len(utterances) else None
    flags = _flags(session, actor, interaction)
    flag_of_hit = {(f.utterance_id, (f.evidence or {}).get("rule_id")): f for f in flags if f.utterance_id is not None}
    spans: dict[int, list[HitSpan]] = defaultdict(list)
    hits = []
    for h in session.scalars(select(RuleHitRow).where(RuleHitRow.interaction_id == interaction.id).order_by(RuleHitRow.id)):
        spans[h.utterance_id].append(HitSpan(h.rule_id, h.family.value, h.span_start, h.span_end))
        f = flag_of_hit.get((h.utterance_id, h.rule_id))
        hits.append(ViewHit(h.id, h.rule_id, h.family.value, line_of_uid.get(h.utterance_id, 0), seq_of_uid.get(h.utterance_id, 0),
                            f.id if f else None, FLAG_STATUS_LABELS[f.status] if f else None))
    hits.sort(key=lambda h: (h.line, h.hit_id))
    lines = tuple(
        TranscriptLine(u.seq, u.role.value, u.start_s, u.end_s, u.started_at, redact(actor, u.text, policy) or "",
                       tuple(spans.get(u.id, ())), flagged=i == highlight)
        for i, u in enumerate(utterances)
    )
    adj = score_adjustments()
    effective = session.scalar(select(effective_score(adj)).outerjoin(adj, adj.c.interaction_id == Interaction.id).where(Interaction.id == interaction.id))
    window = session.get(Window, interaction.window_id) if interaction.window_id else None
    staff = session.get(Staff, interaction.staff_id) if interaction.staff_id else None
    return InteractionView(
        interaction.id, interaction.recording_id, interaction.started_at, interaction.ended_at, interaction.start_s, interaction.end_s,
        window.code if window else None, staff.staff_no if staff else None, staff.name if staff else None, interaction.served,
        interaction.score, float(effective if effective is not None else interaction.score), lines, tuple(hits),
        _required(interaction, rulebook, line_of), _lost(actor, interaction, flags, line_of, seq_of_uid, policy),
        tuple(ViewFlag(f.id, f.kind.value, FLAG_KIND_LABELS.get(f.kind, f.kind.value), FLAG_STATUS_LABELS[f.status], (f.evidence or {}).get("rule_id"),
                       line_of_uid.get(f.utterance_id)) for f in flags),
        highlight, policy.sees_pii(actor),
    )


def line_clip(session: Session, actor: Actor, interaction_id: int, line: int, *, archive_dir: Path | None = None,
              policy: AccessPolicy = DEFAULT_POLICY, margin_s: float = DEFAULT_MARGIN_S, max_s: float = MAX_CLIP_S) -> AudioClip | None:
    """The audio from 0-based ``line`` to the interaction's end (``max_s`` at most), playing from the line.

    Returns:
        The clip, or None when the actor's role may not hear recordings, the line does not exist
        or the file is not in the archive.

    Raises:
        NotFound: no such interaction, or (staff) not one they served.
    """
    interaction = visible_interaction(session, actor, interaction_id)
    if not policy.sees_pii(actor):
        return None
    utterances = session.scalars(select(Utterance).where(Utterance.interaction_id == interaction.id).order_by(Utterance.seq)).all()
    if not 0 <= line < len(utterances):
        return None
    recording = session.get(Recording, interaction.recording_id)
    path = _resolve_audio(recording.path if recording else None, archive_dir)
    if path is None:
        return None
    start_s = utterances[line].start_s
    return cut_clip(path, start_s, max(interaction.end_s, utterances[line].end_s), margin_s, max_s=max_s + margin_s)


def record_line_play(session: Session, actor: Actor, interaction_id: int, line: int, clip: AudioClip) -> None:
    """Audit that ``actor`` heard an interaction from a line (in the caller's transaction)."""
    audit(session, actor.username, "interaction.play", "interaction", int(interaction_id), line=int(line),
          clip_start_s=round(clip.start_s, 2), clip_end_s=round(clip.end_s, 2))


__all__ = ["InteractionView", "LostPoints", "RequiredPhrase", "ViewFlag", "ViewHit", "interaction_view", "line_clip", "record_line_play",
           "visible_interaction"]
