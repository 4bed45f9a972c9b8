"""Flags: the inspector's queue and one flag opened with everything a reviewer needs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from models.db import (
    Flag,
    FlagKind,
    FlagStatus,
    Interaction,
    Rating,
    Recording,
    Review,
    ReviewDecision,
    ReviewKind,
    RuleHitRow,
    Staff,
    UserAccount,
    UserRole,
    Utterance,
    Window,
)
from models.domain import RuleFamily
from models.rulebook import Rulebook
from scoring.access.policy import (
    DECIDE,
    DEFAULT_POLICY,
    FLAG_KIND_LABELS,
    FLAG_STATUS_LABELS,
    READ_ALL_FLAGS,
    AccessPolicy,
    NotFound,
    day_end,
    day_start,
    redact,
    require,
    staff_scope,
)
from scoring.access.audio import DEFAULT_MARGIN_S, AudioClip, cut_clip
from scoring.accounts import Actor, audit
from scoring.score import ScoreLine


# What the hall sees for a severity level; a level without a label is shown as it is written.
SEVERITY_LABELS = {"minor": "一般", "major": "较重", "serious": "严重"}


def severity_choices(rulebook: Rulebook) -> list[str]:
    """The severity levels the queue can filter on: exactly the rulebook's ``[scoring.severity]``, mildest first."""
    return rulebook.scoring.severity_levels


@dataclass(frozen=True)
class FlagFilter:
    """The inspector's queue filters; empty tuples mean "any". Dates are inclusive days."""

    window_ids: tuple[int, ...] = ()
    staff_ids: tuple[int, ...] = ()
    rule_ids: tuple[str, ...] = ()
    kinds: tuple[FlagKind, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[FlagStatus, ...] = (FlagStatus.OPEN,)
    start: date | None = None
    end: date | None = None
    with_pending_appeal: bool = False


def flag_rule(flag_evidence) -> Any:
    """SQL expression of a flag's rule id (from its JSON evidence)."""
    return flag_evidence["rule_id"].as_string()


def _flag_query(session: Session, actor: Actor, f: FlagFilter):
    staff_ids = f.staff_ids
    if actor.role is UserRole.STAFF:
        for sid in staff_ids:
            staff_scope(actor, sid)
        staff_ids = (staff_scope(actor, None),)
    else:
        require(actor, READ_ALL_FLAGS | {UserRole.STAFF}, "read flags")
    conditions = []
    if f.window_ids:
        conditions.append(Flag.window_id.in_(f.window_ids))
    if staff_ids:
        conditions.append(Flag.staff_id.in_(staff_ids))
    if f.rule_ids:
        # only phrase flags name a rule: the kind narrows the rows (index) before the JSON lookup
        conditions.append(Flag.kind.in_([FlagKind.FORBIDDEN, FlagKind.CITIZEN_ABUSE, FlagKind.SITUATIONAL]))
        conditions.append(flag_rule(Flag.evidence).in_(f.rule_ids))
    if f.kinds:
        conditions.append(Flag.kind.in_(f.kinds))
    if f.severities:
        conditions.append(Flag.severity.in_(f.severities))
    if f.statuses:
        conditions.append(Flag.status.in_(f.statuses))
    if f.start is not None:
        conditions.append(Flag.raised_at >= day_start(f.start))
    if f.end is not None:
        conditions.append(Flag.raised_at < day_end(f.end))
    if f.with_pending_appeal:
        conditions.append(Flag.reviews.any(and_(Review.kind == ReviewKind.APPEAL, Review.decision == ReviewDecision.PENDING)))
    return conditions


COUNT_CAP = 10_000


def shown_summary(actor: Actor, kind: FlagKind, summary: str | None, evidence: dict | None, policy: AccessPolicy = DEFAULT_POLICY) -> str | None:
    """A flag's summary as ``actor`` may read it.

    A 工号 mismatch names the colleague whose 工号 the terminal showed; a staff member reads the
    工号 (the evidence they may appeal against), never another staff member's name.
    """
    if actor.role is UserRole.STAFF and kind is FlagKind.STAFF_MISMATCH:
        ev = evidence or {}
        return f"terminal shows 工号 {ev.get('terminal_staff_no') or '-'}, not the 工号 of the staff member serving ({ev.get('serving_staff_no') or '-'})"
    return redact(actor, summary, policy)


@dataclass(frozen=True)
class FlagRow:
    """One flag of the queue (summary redacted for the actor)."""

    id: int
    raised_at: datetime
    kind: str
    kind_label: str
    severity: str
    status: str
    status_label: str
    rule_id: str | None
    window: str | None
    staff_no: str | None
    staff_name: str | None
    summary: str | None
    interaction_id: int | None
    appeal_pending: bool


def flag_queue(session: Session, actor: Actor, f: FlagFilter = FlagFilter(), *, limit: int = 200, offset: int = 0,
               policy: AccessPolicy = DEFAULT_POLICY) -> tuple[int, list[FlagRow]]:
    """Flags matching ``f``, newest first, with the total count (staff: their own only).

    Returns:
        (total matching, at most ``COUNT_CAP + 1`` meaning "more than COUNT_CAP"; one page of rows).
    """
    conditions = _flag_query(session, actor, f)
    # an exact count of a year of open flags costs more than it tells: count up to COUNT_CAP
    matching = select(Flag.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(matching)) or 0
    appeal = aliased(Review)
    pending = (
        select(func.count(appeal.id))
        .where(appeal.flag_id == Flag.id, appeal.kind == ReviewKind.APPEAL, appeal.decision == ReviewDecision.PENDING)
        .correlate(Flag)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Flag.id, Flag.raised_at, Flag.kind, Flag.severity, Flag.status, Flag.summary, Flag.evidence,
            Window.code, Staff.staff_no, Staff.name, Flag.interaction_id, pending,
        )
        .outerjoin(Window, Window.id == Flag.window_id)
        .outerjoin(Staff, Staff.id == Flag.staff_id)
        .where(*conditions)
        .order_by(Flag.raised_at.desc(), Flag.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    out = [
        FlagRow(
            id=fid, raised_at=raised, kind=kind.value, kind_label=FLAG_KIND_LABELS.get(kind, kind.value), severity=sev,
            status=status.value, status_label=FLAG_STATUS_LABELS[status], rule_id=(evidence or {}).get("rule_id"),
            window=wcode, staff_no=sno, staff_name=sname, summary=shown_summary(actor, kind, summary, evidence, policy), interaction_id=iid,
            appeal_pending=bool(n_pending),
        )
        for fid, raised, kind, sev, status, summary, evidence, wcode, sno, sname, iid, n_pending in rows
    ]
    return total, out


@dataclass(frozen=True)
class HitSpan:
    """A rule hit inside an utterance's text: characters ``start``..``end``."""

    rule_id: str
    family: str
    start: int
    end: int


@dataclass(frozen=True)
class TranscriptLine:
    """One utterance as shown: role, times, (redacted) text and the character spans of hits."""

    seq: int
    role: str
    start_s: float
    end_s: float
    started_at: datetime | None
    text: str
    hits: tuple[HitSpan, ...] = ()
    flagged: bool = False


@dataclass(frozen=True)
class FlagInfo:
    """The flag itself as a reviewer sees it."""

    id: int
    kind: str
    kind_label: str
    severity: str
    status: str
    status_label: str
    penalised: bool
    raised_at: datetime
    summary: str | None
    rule_id: str | None
    original_rule_id: str | None
    window: str | None
    staff_no: str | None
    staff_name: str | None
    missing: list[str] | None


@dataclass(frozen=True)
class InteractionInfo:
    """The interaction a flag belongs to; ``score`` is the stored score, ``explanation`` its lines (:mod:`scoring.score`, redacted)."""

    id: int
    started_at: datetime | None
    ended_at: datetime | None
    start_s: float
    end_s: float
    score: float
    has_greeting: bool
    has_farewell: bool
    ticket_no: str | None
    explanation: tuple[ScoreLine, ...]


@dataclass(frozen=True)
class RatingInfo:
    """The rating of the flagged interaction (comment and matter redacted)."""

    level: str
    is_poor: bool
    rated_at: datetime
    comment: str | None
    matter: str | None
    serial_no: str | None


@dataclass(frozen=True)
class ReviewRow:
    """One decision, adjustment or appeal on a flag (comment and ruling redacted)."""

    id: int
    kind: str
    decision: str
    rule_id: str | None
    comment: str | None
    ruling: str | None
    reviewer: str | None
    created_at: datetime | None
    decided_at: datetime | None
    score_adjustment: float


@dataclass(frozen=True)
class PrescribedPhrase:
    """A phrase the rulebook prescribes."""

    rule_id: str
    wording: str
    situation: str


@dataclass(frozen=True)
class LinkedEvidence:
    """What a flag is recorded together with: the citizen abuse before a retort (``provoked_by``, 二.7),
    or a repeat visit's two visits (``first_visit``, ``return_visit``, 八.3/八.4). Texts redacted."""

    kind: str
    window: str | None = None
    ticket_no: str | None = None
    at: str | None = None  # ISO time (a visit) or seconds into the recording (the abuse)
    text: str | None = None
    matter: str | None = None
    interaction_id: int | None = None


@dataclass(frozen=True)
class FlagDetail:
    """What a reviewer needs to decide a flag."""

    flag: FlagInfo
    interaction: InteractionInfo | None
    transcript: list[TranscriptLine]
    audio_path: str | None  # on the server only: None when the role may not hear recordings or the file is missing
    audio_start_s: float
    rating: RatingInfo | None
    reviews: list[ReviewRow]
    instead: list[PrescribedPhrase]  # prescribed phrases for the flagged rule
    can_decide: bool
    can_appeal: bool
    audio: AudioClip | None = None  # what may be played: the evidence ± the margin, never the whole recording
    unmasked: bool = False  # texts shown with citizens' numbers (the viewer's role may see them)
    linked: tuple[LinkedEvidence, ...] = ()  # what the flag is recorded together with


def _linked(actor: Actor, flag: Flag, policy: AccessPolicy) -> tuple[LinkedEvidence, ...]:
    ev = flag.evidence or {}
    out = []
    provoked = ev.get("provoked_by")
    if isinstance(provoked, dict):
        out.append(LinkedEvidence("provoked_by", at=f"{float(provoked.get('start_s') or 0):.1f}", text=redact(actor, provoked.get("text"), policy)))
    if flag.kind is FlagKind.REPEAT_VISIT:
        for kind, key in (("first_visit", "first"), ("return_visit", "return")):
            visit = ev.get(key) or {}
            out.append(LinkedEvidence(kind, window=visit.get("window"), ticket_no=visit.get("ticket_no"), at=visit.get("called_at"),
                                      matter=redact(actor, ev.get("matter"), policy), interaction_id=visit.get("interaction_id")))
    return tuple(out)


def _resolve_audio(path: str | None, archive_dir: Path | None) -> str | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute() and archive_dir is not None:
        p = Path(archive_dir) / p
    return str(p) if p.is_file() else None


def prescribed_phrases(rulebook: Rulebook | None, rule_id: str | None) -> list[PrescribedPhrase]:
    """The phrases the rulebook prescribes instead of ``rule_id`` (a forbidden rule), or the rule itself (courtesy)."""
    if rulebook is None or not rule_id or rule_id not in rulebook.by_id:
        return []
    rule = rulebook.by_id[rule_id]
    ids = rule.instead if rule.family is RuleFamily.FORBIDDEN else [rule.id]
    return [PrescribedPhrase(rid, rulebook.by_id[rid].canonical, rulebook.by_id[rid].situation) for rid in ids]


def _reviews(session: Session, actor: Actor, flag_id: int, policy: AccessPolicy) -> list[ReviewRow]:
    rows = session.execute(
        select(Review, UserAccount.username).outerjoin(UserAccount, UserAccount.id == Review.reviewer_id).where(Review.flag_id == flag_id).order_by(Review.id)
    ).all()
    return [
        ReviewRow(
            id=r.id, kind=r.kind.value, decision=r.decision.value, rule_id=r.rule_id, comment=redact(actor, r.comment, policy),
            ruling=redact(actor, r.ruling, policy), reviewer=name, created_at=r.created_at, decided_at=r.decided_at,
            score_adjustment=r.score_adjustment,
        )
        for r, name in rows
    ]


def visible_flag(session: Session, actor: Actor, flag_id: int) -> Flag:
    """The flag ``flag_id`` if the actor may see it.

    Raises:
        NotFound: no such flag, or (staff) not one of theirs.
    """
    flag = session.get(Flag, int(flag_id))
    if flag is None:
        raise NotFound(f"no flag {flag_id}")
    if actor.role is UserRole.STAFF:
        if flag.staff_id != staff_scope(actor, None):
            # same answer as a missing flag: a staff member learns nothing about others' flags
            raise NotFound(f"no flag {flag_id}")
    else:
        require(actor, READ_ALL_FLAGS, "read flags")
    return flag


def _flag_info(session: Session, actor: Actor, flag: Flag, policy: AccessPolicy) -> FlagInfo:
    ev = dict(flag.evidence or {})
    window = session.get(Window, flag.window_id) if flag.window_id else None
    staff = session.get(Staff, flag.staff_id) if flag.staff_id else None
    return FlagInfo(
        id=flag.id, kind=flag.kind.value, kind_label=FLAG_KIND_LABELS.get(flag.kind, flag.kind.value), severity=flag.severity,
        status=flag.status.value, status_label=FLAG_STATUS_LABELS[flag.status], penalised=flag.penalised, raised_at=flag.raised_at,
        summary=shown_summary(actor, flag.kind, flag.summary, ev, policy), rule_id=ev.get("rule_id"), original_rule_id=ev.get("original_rule_id"),
        window=window.code if window else None, staff_no=staff.staff_no if staff else None, staff_name=staff.name if staff else None,
        missing=ev.get("missing"),
    )


def _transcript(session: Session, actor: Actor, flag: Flag, interaction: Interaction, policy: AccessPolicy) -> list[TranscriptLine]:
    utterances = session.scalars(select(Utterance).where(Utterance.interaction_id == interaction.id).order_by(Utterance.seq)).all()
    hits: dict[int, list[RuleHitRow]] = defaultdict(list)
    for h in session.scalars(select(RuleHitRow).where(RuleHitRow.interaction_id == interaction.id)):
        hits[h.utterance_id].append(h)
    return [
        TranscriptLine(
            u.seq, u.role.value, u.start_s, u.end_s, u.started_at, redact(actor, u.text, policy) or "",
            tuple(HitSpan(h.rule_id, h.family.value, h.span_start, h.span_end) for h in hits.get(u.id, [])),
            flagged=u.id == flag.utterance_id,
        )
        for u in utterances
    ]


def _rating_info(session: Session, actor: Actor, flag: Flag, interaction: Interaction | None, policy: AccessPolicy) -> RatingInfo | None:
    rating = session.get(Rating, flag.rating_id) if flag.rating_id else None
    if rating is None and interaction is not None:
        rating = session.scalar(select(Rating).where(Rating.interaction_id == interaction.id).limit(1))
    if rating is None:
        return None
    return RatingInfo(rating.level, rating.is_poor, rating.rated_at, redact(actor, rating.comment, policy), redact(actor, rating.matter, policy),
                      rating.serial_no)


def _explanation(actor: Actor, interaction: Interaction, policy: AccessPolicy) -> tuple[ScoreLine, ...]:
    # the lines quote what was said ("said: ...", "forbidden phrase by staff: ..."): mask them like the transcript
    lines = (ScoreLine.from_json(line) for line in interaction.explanation or [])
    return tuple(replace(line, reason=redact(actor, line.reason, policy) or "") for line in lines)


def flag_detail(session: Session, actor: Actor, flag_id: int, *, rulebook: Rulebook | None = None,
                archive_dir: Path | None = None, policy: AccessPolicy = DEFAULT_POLICY, clip_margin_s: float = DEFAULT_MARGIN_S) -> FlagDetail:
    """A flag with its interaction, transcript (hits marked), the audio clip around the evidence, rating and reviews.

    Viewing what this returns unmasked is audited by :func:`record_flag_view`.

    Raises:
        NotFound: no such flag, or (staff) not one of theirs.
    """
    flag = visible_flag(session, actor, flag_id)
    ev = dict(flag.evidence or {})
    info = _flag_info(session, actor, flag, policy)
    interaction_info = None
    transcript: list[TranscriptLine] = []
    audio_path = clip = None
    audio_start = float(ev.get("start_s") or 0.0)
    interaction = session.get(Interaction, flag.interaction_id) if flag.interaction_id else None
    recording_id = flag.recording_id or (interaction.recording_id if interaction else None)
    if interaction is not None:
        interaction_info = InteractionInfo(
            interaction.id, interaction.started_at, interaction.ended_at, interaction.start_s, interaction.end_s, interaction.score,
            interaction.has_greeting, interaction.has_farewell, interaction.ticket_no,
            _explanation(actor, interaction, policy),
        )
        transcript = _transcript(session, actor, flag, interaction, policy)
    elif ev.get("text"):
        transcript.append(TranscriptLine(0, ev.get("role", "staff"), audio_start, float(ev.get("end_s") or audio_start), None, redact(actor, ev["text"], policy) or "", flagged=True))
    if policy.hears_audio(actor) and recording_id is not None:
        recording = session.get(Recording, recording_id)
        audio_path = _resolve_audio(recording.path if recording else None, archive_dir)
        if audio_path is not None:
            clip = cut_clip(audio_path, audio_start, float(ev.get("end_s") or audio_start), clip_margin_s)
    reviews = _reviews(session, actor, flag.id, policy)
    pending_appeal = any(r.kind == "appeal" and r.decision == "pending" for r in reviews)
    return FlagDetail(
        flag=info,
        interaction=interaction_info,
        transcript=transcript,
        audio_path=audio_path,
        audio_start_s=audio_start,
        rating=_rating_info(session, actor, flag, interaction, policy),
        reviews=reviews,
        instead=prescribed_phrases(rulebook, info.rule_id),
        can_decide=actor.role in DECIDE,
        can_appeal=actor.role is UserRole.STAFF and flag.penalised and flag.status is not FlagStatus.DISMISSED and not pending_appeal
        and not any(r.kind == "appeal" for r in reviews),
        audio=clip,
        unmasked=policy.sees_pii(actor),
        linked=_linked(actor, flag, policy),
    )


def record_flag_view(session: Session, actor: Actor, detail: FlagDetail) -> bool:
    """Audit that ``actor`` heard a flag's audio or read its texts unmasked (in the caller's transaction).

    Returns:
        Whether a line was written (nothing to audit when everything shown was masked).
    """
    if detail.audio is None and not detail.unmasked:
        return False
    clip = {"clip_start_s": round(detail.audio.start_s, 2), "clip_end_s": round(detail.audio.end_s, 2)} if detail.audio else {}
    audit(session, actor.username, "flag.view_pii", "flag", detail.flag.id, audio=detail.audio is not None, unmasked=detail.unmasked, **clip)
    return True

