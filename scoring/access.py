"""The role-scoped query layer of the dashboard: every query takes the acting user.

Role limits are enforced here, in the data layer, not by hiding pages: a staff member's
queries are always restricted to their own staff id whatever the caller asks for (asking for
someone else's data raises :class:`AccessDenied`), only inspectors decide flags and rule on
appeals, only managers and admins see the hall's analytics and export, only admins manage
accounts. Citizens' ID, mobile and bank card numbers are masked (:func:`models.privacy.redact_pii`)
in every transcript and comment unless the actor's role is in ``AccessPolicy.pii_roles``; the
same roles may play the audio (which cannot be masked).

Reads return plain rows (lists of dicts, dataclasses) so that the dashboard can cache them.
Writes (decisions, appeals, exports) are audited in ``audit_log`` in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from models.db import (
    Department,
    Flag,
    FlagKind,
    FlagStatus,
    FollowUp,
    FollowUpStatus,
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
from models.privacy import redact_pii
from models.rulebook import Rulebook
from scoring.accounts import Actor, audit

log = logging.getLogger("scoring")

FLAG_KIND_LABELS = {
    FlagKind.FORBIDDEN: "服务禁语",
    FlagKind.POOR_RATING: "差评",
    FlagKind.MISSING_COURTESY: "缺少问候/道别",
    FlagKind.CITIZEN_ABUSE: "群众辱骂（不扣分）",
    FlagKind.OVERDUE_FOLLOW_UP: "回访逾期",
    FlagKind.STAFF_MISMATCH: "工号不符",
    FlagKind.UNLINKED_RATING: "评价未关联",
}
FLAG_STATUS_LABELS = {FlagStatus.OPEN: "待处理", FlagStatus.CONFIRMED: "已确认", FlagStatus.DISMISSED: "已排除"}
FOLLOW_UP_LABELS = {
    FollowUpStatus.OPEN: "待回访",
    FollowUpStatus.CALLED_BACK: "已回访",
    FollowUpStatus.RECTIFIED: "已整改",
    FollowUpStatus.CLOSED: "已办结",
}

Decision = Literal["confirm", "dismiss", "change_rule"]


class AccessDenied(PermissionError):
    """The actor's role may not do or see this; the message says what."""


class NotFound(LookupError):
    """No such flag, appeal or interaction (or not one the actor may see)."""


@dataclass(frozen=True)
class AccessPolicy:
    """Site policy: which roles see citizens' personal numbers and hear recordings."""

    pii_roles: frozenset[UserRole] = frozenset({UserRole.INSPECTOR})

    def sees_pii(self, actor: Actor) -> bool:
        return actor.role in self.pii_roles


DEFAULT_POLICY = AccessPolicy()

# What each role may do. Staff-owned reads are open to every role but scoped by _staff_scope.
_READ_ALL_FLAGS = {UserRole.INSPECTOR, UserRole.MANAGER, UserRole.ADMIN}
_DECIDE = {UserRole.INSPECTOR}
_ANALYTICS = {UserRole.MANAGER, UserRole.ADMIN}
_ADMIN = {UserRole.ADMIN}


def require(actor: Actor, roles: Iterable[UserRole], what: str) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` has one of ``roles``."""
    roles = set(roles)
    if actor.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise AccessDenied(f"{actor.username} ({actor.role.value}) may not {what}; only {allowed}")


def staff_scope(actor: Actor, staff_id: int | None) -> int | None:
    """The staff id a query may cover: a staff member's own, whatever was asked.

    Raises:
        AccessDenied: a staff member asked for another staff member's data.
    """
    if actor.role is UserRole.STAFF:
        if actor.staff_id is None:
            raise AccessDenied(f"{actor.username}: a staff account without a staff member sees nothing")
        if staff_id is not None and int(staff_id) != actor.staff_id:
            raise AccessDenied(f"{actor.username} may see only their own data (工号 {actor.staff_no})")
        return actor.staff_id
    return int(staff_id) if staff_id is not None else None


def redact(actor: Actor, text: str | None, policy: AccessPolicy = DEFAULT_POLICY) -> str | None:
    """``text`` as ``actor`` may read it."""
    if text is None or policy.sees_pii(actor):
        return text
    return redact_pii(text).text


def _day_start(d: date | datetime | None) -> datetime | None:
    if d is None or isinstance(d, datetime):
        return d
    return datetime.combine(d, datetime.min.time())


def _day_end(d: date | datetime | None) -> datetime | None:
    """End bound (exclusive) of an inclusive last day."""
    if d is None or isinstance(d, datetime):
        return d
    return datetime.combine(d + timedelta(days=1), datetime.min.time())


def _bucket_expr(session: Session, column, period: str):
    """SQL expression of a time column's day or month (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM" if period == "month" else "YYYY-MM-DD")
    # SQLite stores datetimes as ISO text: a prefix is the bucket (much cheaper than strftime)
    return func.substr(column, 1, 7 if period == "month" else 10)


# ---------------------------------------------------------------------------- lookups


def staff_choices(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Staff the actor may pick: everyone for inspectors and management, oneself for staff."""
    query = select(Staff.id, Staff.staff_no, Staff.name).order_by(Staff.staff_no)
    if actor.role is UserRole.STAFF:
        query = query.where(Staff.id == staff_scope(actor, None))
    return [{"id": i, "staff_no": no, "name": name} for i, no, name in session.execute(query)]


def window_choices(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Windows (codes and names); every role may list them."""
    return [{"id": i, "code": c, "name": n} for i, c, n in session.execute(select(Window.id, Window.code, Window.name).order_by(Window.code))]


def data_range(session: Session, actor: Actor) -> tuple[date, date] | None:
    """First and last day with interactions or ratings (the actor's own for staff)."""
    sid = staff_scope(actor, None)
    values = []
    # one aggregate per query: SQLite answers a lone min() or max() from the index
    for column, owner in ((Interaction.started_at, Interaction.staff_id), (Rating.rated_at, Rating.staff_id)):
        for agg in (func.min, func.max):
            query = select(agg(column))
            if sid is not None:
                query = query.where(owner == sid)
            value = session.scalar(query)
            if value is not None:
                values.append(value)
    if not values:
        return None
    return min(values).date(), max(values).date()


# ---------------------------------------------------------------------------- flags


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


def _flag_rule(flag_evidence) -> Any:
    return flag_evidence["rule_id"].as_string()


def _flag_query(session: Session, actor: Actor, f: FlagFilter):
    staff_ids = f.staff_ids
    if actor.role is UserRole.STAFF:
        for sid in staff_ids:
            staff_scope(actor, sid)
        staff_ids = (staff_scope(actor, None),)
    else:
        require(actor, _READ_ALL_FLAGS | {UserRole.STAFF}, "read flags")
    conditions = []
    if f.window_ids:
        conditions.append(Flag.window_id.in_(f.window_ids))
    if staff_ids:
        conditions.append(Flag.staff_id.in_(staff_ids))
    if f.rule_ids:
        # only phrase flags name a rule: the kind narrows the rows (index) before the JSON lookup
        conditions.append(Flag.kind.in_([FlagKind.FORBIDDEN, FlagKind.CITIZEN_ABUSE]))
        conditions.append(_flag_rule(Flag.evidence).in_(f.rule_ids))
    if f.kinds:
        conditions.append(Flag.kind.in_(f.kinds))
    if f.severities:
        conditions.append(Flag.severity.in_(f.severities))
    if f.statuses:
        conditions.append(Flag.status.in_(f.statuses))
    if f.start is not None:
        conditions.append(Flag.raised_at >= _day_start(f.start))
    if f.end is not None:
        conditions.append(Flag.raised_at < _day_end(f.end))
    if f.with_pending_appeal:
        conditions.append(Flag.reviews.any(and_(Review.kind == ReviewKind.APPEAL, Review.decision == ReviewDecision.PENDING)))
    return conditions


COUNT_CAP = 10_000


def flag_queue(session: Session, actor: Actor, f: FlagFilter = FlagFilter(), *, limit: int = 200, offset: int = 0,
               policy: AccessPolicy = DEFAULT_POLICY) -> tuple[int, list[dict[str, Any]]]:
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
    out = []
    for fid, raised, kind, sev, status, summary, evidence, wcode, sno, sname, iid, n_pending in rows:
        out.append(
            {
                "id": fid,
                "raised_at": raised,
                "kind": kind.value,
                "kind_label": FLAG_KIND_LABELS.get(kind, kind.value),
                "severity": sev,
                "status": status.value,
                "status_label": FLAG_STATUS_LABELS[status],
                "rule_id": (evidence or {}).get("rule_id"),
                "window": wcode,
                "staff_no": sno,
                "staff_name": sname,
                "summary": redact(actor, summary, policy),
                "interaction_id": iid,
                "appeal_pending": bool(n_pending),
            }
        )
    return total, out


@dataclass
class TranscriptLine:
    """One utterance as shown: role, times, (redacted) text and the character spans of hits."""

    seq: int
    role: str
    start_s: float
    end_s: float
    started_at: datetime | None
    text: str
    hits: list[dict[str, Any]] = field(default_factory=list)  # {"rule_id", "family", "start", "end"}
    flagged: bool = False


@dataclass
class FlagDetail:
    """What a reviewer needs to decide a flag."""

    flag: dict[str, Any]
    interaction: dict[str, Any] | None
    transcript: list[TranscriptLine]
    audio_path: str | None  # None when the role may not hear recordings or the file is missing
    audio_start_s: float
    rating: dict[str, Any] | None
    reviews: list[dict[str, Any]]
    instead: list[dict[str, str]]  # prescribed phrases for the flagged rule
    can_decide: bool
    can_appeal: bool


def _resolve_audio(path: str | None, archive_dir: Path | None) -> str | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute() and archive_dir is not None:
        p = Path(archive_dir) / p
    return str(p) if p.is_file() else None


def prescribed_phrases(rulebook: Rulebook | None, rule_id: str | None) -> list[dict[str, str]]:
    """The phrases the rulebook prescribes instead of ``rule_id`` (a forbidden rule), or the rule itself (courtesy)."""
    if rulebook is None or not rule_id or rule_id not in rulebook.by_id:
        return []
    rule = rulebook.by_id[rule_id]
    ids = rule.instead if rule.family is RuleFamily.FORBIDDEN else [rule.id]
    return [{"rule_id": rid, "wording": rulebook.by_id[rid].canonical, "situation": rulebook.by_id[rid].situation} for rid in ids]


def _reviews(session: Session, actor: Actor, flag_id: int, policy: AccessPolicy) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Review, UserAccount.username).outerjoin(UserAccount, UserAccount.id == Review.reviewer_id).where(Review.flag_id == flag_id).order_by(Review.id)
    ).all()
    return [
        {
            "id": r.id,
            "kind": r.kind.value,
            "decision": r.decision.value,
            "rule_id": r.rule_id,
            "comment": redact(actor, r.comment, policy),
            "ruling": redact(actor, r.ruling, policy),
            "reviewer": name,
            "created_at": r.created_at,
            "decided_at": r.decided_at,
            "score_adjustment": r.score_adjustment,
        }
        for r, name in rows
    ]


def _visible_flag(session: Session, actor: Actor, flag_id: int) -> Flag:
    flag = session.get(Flag, int(flag_id))
    if flag is None:
        raise NotFound(f"no flag {flag_id}")
    if actor.role is UserRole.STAFF:
        if flag.staff_id != staff_scope(actor, None):
            # same answer as a missing flag: a staff member learns nothing about others' flags
            raise NotFound(f"no flag {flag_id}")
    else:
        require(actor, _READ_ALL_FLAGS, "read flags")
    return flag


def flag_detail(session: Session, actor: Actor, flag_id: int, *, rulebook: Rulebook | None = None,
                archive_dir: Path | None = None, policy: AccessPolicy = DEFAULT_POLICY) -> FlagDetail:
    """A flag with its interaction, transcript (hits marked), audio, rating and reviews.

    Raises:
        NotFound: no such flag, or (staff) not one of theirs.
    """
    flag = _visible_flag(session, actor, flag_id)
    ev = dict(flag.evidence or {})
    rule_id = ev.get("rule_id")
    window = session.get(Window, flag.window_id) if flag.window_id else None
    staff = session.get(Staff, flag.staff_id) if flag.staff_id else None
    flag_row = {
        "id": flag.id,
        "kind": flag.kind.value,
        "kind_label": FLAG_KIND_LABELS.get(flag.kind, flag.kind.value),
        "severity": flag.severity,
        "status": flag.status.value,
        "status_label": FLAG_STATUS_LABELS[flag.status],
        "penalised": flag.penalised,
        "raised_at": flag.raised_at,
        "summary": redact(actor, flag.summary, policy),
        "rule_id": rule_id,
        "original_rule_id": ev.get("original_rule_id"),
        "window": window.code if window else None,
        "staff_no": staff.staff_no if staff else None,
        "staff_name": staff.name if staff else None,
        "missing": ev.get("missing"),
    }
    interaction_row = None
    transcript: list[TranscriptLine] = []
    audio_path = None
    audio_start = float(ev.get("start_s") or 0.0)
    interaction = session.get(Interaction, flag.interaction_id) if flag.interaction_id else None
    recording_id = flag.recording_id or (interaction.recording_id if interaction else None)
    if interaction is not None:
        interaction_row = {
            "id": interaction.id,
            "started_at": interaction.started_at,
            "ended_at": interaction.ended_at,
            "start_s": interaction.start_s,
            "end_s": interaction.end_s,
            "score": interaction.score,
            "has_greeting": interaction.has_greeting,
            "has_farewell": interaction.has_farewell,
            "ticket_no": interaction.ticket_no,
            "explanation": list(interaction.explanation or []),
        }
        utterances = session.scalars(select(Utterance).where(Utterance.interaction_id == interaction.id).order_by(Utterance.seq)).all()
        hits: dict[int, list[RuleHitRow]] = defaultdict(list)
        for h in session.scalars(select(RuleHitRow).where(RuleHitRow.interaction_id == interaction.id)):
            hits[h.utterance_id].append(h)
        for u in utterances:
            transcript.append(
                TranscriptLine(
                    u.seq, u.role.value, u.start_s, u.end_s, u.started_at, redact(actor, u.text, policy) or "",
                    [{"rule_id": h.rule_id, "family": h.family.value, "start": h.span_start, "end": h.span_end} for h in hits.get(u.id, [])],
                    flagged=u.id == flag.utterance_id,
                )
            )
    elif ev.get("text"):
        transcript.append(TranscriptLine(0, ev.get("role", "staff"), audio_start, float(ev.get("end_s") or audio_start), None, redact(actor, ev["text"], policy) or "", flagged=True))
    if policy.sees_pii(actor) and recording_id is not None:
        recording = session.get(Recording, recording_id)
        audio_path = _resolve_audio(recording.path if recording else None, archive_dir)
    rating_row = None
    rating = session.get(Rating, flag.rating_id) if flag.rating_id else None
    if rating is None and interaction is not None:
        rating = session.scalar(select(Rating).where(Rating.interaction_id == interaction.id).limit(1))
    if rating is not None:
        rating_row = {
            "level": rating.level,
            "is_poor": rating.is_poor,
            "rated_at": rating.rated_at,
            "comment": redact(actor, rating.comment, policy),
            "matter": rating.matter,
            "serial_no": rating.serial_no,
        }
    reviews = _reviews(session, actor, flag.id, policy)
    pending_appeal = any(r["kind"] == "appeal" and r["decision"] == "pending" for r in reviews)
    return FlagDetail(
        flag=flag_row,
        interaction=interaction_row,
        transcript=transcript,
        audio_path=audio_path,
        audio_start_s=audio_start,
        rating=rating_row,
        reviews=reviews,
        instead=prescribed_phrases(rulebook, rule_id),
        can_decide=actor.role in _DECIDE,
        can_appeal=actor.role is UserRole.STAFF and flag.penalised and flag.status is not FlagStatus.DISMISSED and not pending_appeal
        and not any(r["kind"] == "appeal" for r in reviews),
    )


def _score_restore(session: Session, flag: Flag) -> float:
    """Points the flag cost its interaction's score (restored when it is dismissed)."""
    if not flag.penalised or flag.interaction_id is None:
        return 0.0
    interaction = session.get(Interaction, flag.interaction_id)
    if interaction is None:
        return 0.0
    seq = session.scalar(select(Utterance.seq).where(Utterance.id == flag.utterance_id)) if flag.utterance_id else None
    ev = flag.evidence or {}
    lost = 0.0
    for line in interaction.explanation or []:
        points = float(line.get("points") or 0.0)
        if points >= 0:
            continue
        if flag.kind is FlagKind.FORBIDDEN and line.get("rule_id") == ev.get("original_rule_id", ev.get("rule_id")) and line.get("utterance_seq") == seq:
            lost += -points
        elif flag.kind is FlagKind.MISSING_COURTESY and line.get("rule_id") in _REQUIRED_IDS and line.get("utterance_seq") is None:
            lost += -points
    return lost


# Stable ids (shared spec rule-ids.md) of the required courtesy a missing-courtesy flag is about.
_REQUIRED_IDS = frozenset({"courtesy.greet", "courtesy.farewell"})


def _close(session: Session, actor: Actor, flag: Flag, status: FlagStatus, note: str) -> None:
    """Set a flag's status; dismissing a penalised flag gives its interaction its points back."""
    was = flag.status
    flag.status = status
    if status is FlagStatus.DISMISSED and was is not FlagStatus.DISMISSED:
        points = _score_restore(session, flag)
        if points:
            session.add(
                Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                       decision=ReviewDecision.ADJUST, score_adjustment=points, comment=f"flag {flag.id} dismissed: {note}"[:2000],
                       decided_at=datetime.now().replace(microsecond=0))
            )
    elif status is FlagStatus.CONFIRMED and was is FlagStatus.DISMISSED:
        # undo an earlier restore
        restored = session.scalar(
            select(func.sum(Review.score_adjustment)).where(Review.flag_id == flag.id, Review.decision == ReviewDecision.ADJUST)
        ) or 0.0
        if restored:
            session.add(
                Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                       decision=ReviewDecision.ADJUST, score_adjustment=-restored, comment=f"flag {flag.id} confirmed again",
                       decided_at=datetime.now().replace(microsecond=0))
            )


def decide_flag(session: Session, actor: Actor, flag_id: int, decision: Decision, *, reason: str = "",
                rule_id: str | None = None, rulebook: Rulebook | None = None) -> Review:
    """An inspector's decision on a flag: confirm, dismiss as a false alarm, or change its rule.

    The decision is a ``Review`` row (``kind = inspection``; a changed rule in ``rule_id``) and an
    audit log line; :func:`labelled_examples` turns decisions into training lines. Dismissing a
    penalised flag restores its points through an ``adjust`` review (reports add adjustments).
    Changing the rule to a forbidden rule keeps the flag confirmed under the new rule; changing it
    to a courtesy or telephone rule means the utterance broke no rule, so the flag is dismissed.

    Raises:
        AccessDenied: the actor is not an inspector.
        NotFound: no such flag.
        ValueError: a dismissal without reason, an unknown rule.
    """
    require(actor, _DECIDE, "decide flags")
    flag = _visible_flag(session, actor, flag_id)
    reason = reason.strip()
    now = datetime.now().replace(microsecond=0)
    ev = dict(flag.evidence or {})
    if decision == "confirm":
        review = Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                        decision=ReviewDecision.CONFIRM, comment=reason, decided_at=now)
        _close(session, actor, flag, FlagStatus.CONFIRMED, reason)
    elif decision == "dismiss":
        if not reason:
            raise ValueError("dismissing a flag as a false alarm needs a reason")
        review = Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                        decision=ReviewDecision.DISMISS, comment=reason, decided_at=now)
        _close(session, actor, flag, FlagStatus.DISMISSED, reason)
    elif decision == "change_rule":
        if rulebook is None or not rule_id or rule_id not in rulebook.by_id:
            raise ValueError(f"unknown rule {rule_id!r}")
        if flag.kind is not FlagKind.FORBIDDEN:
            raise ValueError("only a phrase flag (forbidden) can change its rule")
        new_rule = rulebook.by_id[rule_id]
        still_forbidden = new_rule.family is RuleFamily.FORBIDDEN
        review = Review(kind=ReviewKind.INSPECTION, flag_id=flag.id, interaction_id=flag.interaction_id, reviewer_id=actor.user_id,
                        decision=ReviewDecision.CONFIRM if still_forbidden else ReviewDecision.DISMISS, rule_id=rule_id,
                        comment=reason, decided_at=now)
        _close(session, actor, flag, FlagStatus.CONFIRMED if still_forbidden else FlagStatus.DISMISSED, reason or f"rule changed to {rule_id}")
        ev.setdefault("original_rule_id", ev.get("rule_id"))
        ev["rule_id"] = rule_id
        flag.evidence = ev  # a new dict, so the JSON column is written
        if still_forbidden:
            flag.severity = new_rule.severity.value if new_rule.severity else flag.severity
    else:
        raise ValueError(f"unknown decision {decision!r}: confirm, dismiss or change_rule")
    session.add(review)
    session.flush()
    audit(session, actor.username, "review.decide", "flag", flag.id, decision=decision, reason=reason, rule_id=rule_id, review_id=review.id)
    return review


# ---------------------------------------------------------------------------- appeals (申诉)


def file_appeal(session: Session, actor: Actor, flag_id: int, reason: str) -> Review:
    """A staff member contests one of their own flags; an inspector rules on it.

    Raises:
        AccessDenied: not a staff member.
        NotFound: no such flag among the actor's own.
        ValueError: no reason, a flag not penalised or dismissed, or one already appealed.
    """
    require(actor, {UserRole.STAFF}, "file appeals")
    flag = _visible_flag(session, actor, flag_id)
    reason = reason.strip()
    if not reason:
        raise ValueError("an appeal needs the reason")
    if not flag.penalised or flag.status is FlagStatus.DISMISSED:
        raise ValueError(f"flag {flag.id} does not count against you: nothing to appeal")
    if session.scalar(select(Review.id).where(Review.flag_id == flag.id, Review.kind == ReviewKind.APPEAL)) is not None:
        raise ValueError(f"flag {flag.id} was appealed already; the inspector's ruling is final")
    review = Review(kind=ReviewKind.APPEAL, flag_id=flag.id, interaction_id=flag.interaction_id, decision=ReviewDecision.PENDING, comment=reason)
    session.add(review)
    session.flush()
    audit(session, actor.username, "appeal.file", "flag", flag.id, review_id=review.id)
    return review


def appeals(session: Session, actor: Actor, *, pending_only: bool = False, policy: AccessPolicy = DEFAULT_POLICY) -> list[dict[str, Any]]:
    """Appeals with the flag they contest (staff: their own; inspectors and management: all)."""
    query = (
        select(Review, Flag, Staff.staff_no, Staff.name, UserAccount.username)
        .join(Flag, Flag.id == Review.flag_id)
        .outerjoin(Staff, Staff.id == Flag.staff_id)
        .outerjoin(UserAccount, UserAccount.id == Review.reviewer_id)
        .where(Review.kind == ReviewKind.APPEAL)
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    if actor.role is UserRole.STAFF:
        query = query.where(Flag.staff_id == staff_scope(actor, None))
    else:
        require(actor, _READ_ALL_FLAGS, "read appeals")
    if pending_only:
        query = query.where(Review.decision == ReviewDecision.PENDING)
    return [
        {
            "appeal_id": r.id,
            "flag_id": f.id,
            "kind_label": FLAG_KIND_LABELS.get(f.kind, f.kind.value),
            "rule_id": (f.evidence or {}).get("rule_id"),
            "staff_no": sno,
            "staff_name": sname,
            "reason": redact(actor, r.comment, policy),
            "filed_at": r.created_at,
            "decision": r.decision.value,
            "ruling": redact(actor, r.ruling, policy),
            "ruled_by": reviewer,
            "decided_at": r.decided_at,
            "flag_status": f.status.value,
        }
        for r, f, sno, sname, reviewer in session.execute(query)
    ]


def rule_on_appeal(session: Session, actor: Actor, appeal_id: int, *, uphold_flag: bool, ruling: str) -> Review:
    """The inspector's final ruling: uphold the flag (appeal rejected) or dismiss it (appeal accepted).

    Raises:
        AccessDenied: not an inspector.
        NotFound: no such appeal.
        ValueError: no ruling text, or the appeal was ruled on already (rulings are final).
    """
    require(actor, _DECIDE, "rule on appeals")
    review = session.get(Review, int(appeal_id))
    if review is None or review.kind is not ReviewKind.APPEAL:
        raise NotFound(f"no appeal {appeal_id}")
    if review.decision is not ReviewDecision.PENDING:
        raise ValueError(f"appeal {appeal_id} was ruled on already ({review.decision.value}); the ruling is final")
    ruling = ruling.strip()
    if not ruling:
        raise ValueError("a ruling needs its reasons")
    flag = session.get(Flag, review.flag_id)
    review.decision = ReviewDecision.CONFIRM if uphold_flag else ReviewDecision.DISMISS
    review.ruling = ruling
    review.reviewer_id = actor.user_id
    review.decided_at = datetime.now().replace(microsecond=0)
    _close(session, actor, flag, FlagStatus.CONFIRMED if uphold_flag else FlagStatus.DISMISSED, f"appeal {review.id}: {ruling}")
    session.flush()
    audit(session, actor.username, "appeal.rule", "flag", flag.id, review_id=review.id, uphold_flag=uphold_flag, ruling=ruling)
    return review


# ---------------------------------------------------------------------------- labelled examples


def labelled_examples(session: Session) -> list[tuple[str, str]]:
    """Reviewed phrase flags as (text, label) training lines for the matcher's classifier.

    The label is the rule the reviewer settled on (the flagged rule when confirmed, the new rule
    when changed), or ``"none"`` when the flag was dismissed as a false alarm; the latest decision
    on a flag wins. Texts are redacted: personal numbers never reach a model file.
    ``windowqa nlp retrain`` passes these as extra lines to the classifier's training.
    """
    rows = session.execute(
        select(Flag.id, Flag.evidence, Utterance.text, Review.decision, Review.rule_id, Review.id)
        .join(Review, Review.flag_id == Flag.id)
        .join(Utterance, Utterance.id == Flag.utterance_id)
        .where(
            Flag.kind == FlagKind.FORBIDDEN,
            Review.decision.in_([ReviewDecision.CONFIRM, ReviewDecision.DISMISS]),
        )
        .order_by(Flag.id, Review.id)
    ).all()
    latest: dict[int, tuple[str, str]] = {}
    for fid, evidence, text, decision, rule_id, _rid in rows:
        ev = evidence or {}
        if rule_id:
            label = rule_id
        elif decision is ReviewDecision.DISMISS:
            label = "none"
        else:
            label = ev.get("rule_id") or "none"
        latest[fid] = (redact_pii(text).text, label)
    return list(latest.values())


# ---------------------------------------------------------------------------- staff views


def _adjustments_subquery():
    return (
        select(Review.interaction_id.label("iid"), func.sum(Review.score_adjustment).label("adj"))
        .where(Review.decision == ReviewDecision.ADJUST, Review.interaction_id.is_not(None))
        .group_by(Review.interaction_id)
        .subquery()
    )


def score_series(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                 end: date | None = None, period: Literal["day", "month"] = "day") -> list[dict[str, Any]]:
    """Average score, courtesy rates and counts per day or month (one staff member, or the whole hall for management).

    Staff get their own series only; inspectors and management may name a staff member or
    take the hall.
    """
    sid = staff_scope(actor, staff_id)
    if sid is None:
        require(actor, _ANALYTICS | {UserRole.INSPECTOR}, "see the whole hall's scores")
    adj = _adjustments_subquery()
    bucket = _bucket_expr(session, Interaction.started_at, period)
    score = Interaction.score + func.coalesce(adj.c.adj, 0.0)
    query = (
        select(
            bucket.label("bucket"),
            func.count(Interaction.id),
            func.avg(case((score < 0, 0.0), else_=score)),
            func.avg(case((Interaction.has_greeting, 1.0), else_=0.0)),
            func.avg(case((Interaction.has_farewell, 1.0), else_=0.0)),
        )
        .outerjoin(adj, adj.c.iid == Interaction.id)
        .where(Interaction.served.is_(True))
        .group_by(bucket)
        .order_by(bucket)
    )
    if sid is not None:
        query = query.where(Interaction.staff_id == sid)
    if start is not None:
        query = query.where(Interaction.started_at >= _day_start(start))
    if end is not None:
        query = query.where(Interaction.started_at < _day_end(end))
    return [
        {"period": str(b), "interactions": n, "avg_score": round(float(s), 1) if s is not None else None,
         "greeting_rate": round(float(g), 3), "farewell_rate": round(float(fw), 3)}
        for b, n, s, g, fw in session.execute(query)
    ]


def staff_flagged_utterances(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                             end: date | None = None, rulebook: Rulebook | None = None, limit: int = 200,
                             policy: AccessPolicy = DEFAULT_POLICY) -> list[dict[str, Any]]:
    """A staff member's phrase and courtesy flags, each with the phrase the rulebook prescribes."""
    sid = staff_scope(actor, staff_id)
    if sid is None:
        raise ValueError("name the staff member")
    f = FlagFilter(staff_ids=(sid,), kinds=(FlagKind.FORBIDDEN, FlagKind.MISSING_COURTESY, FlagKind.POOR_RATING),
                   statuses=(), start=start, end=end)
    _, rows = flag_queue(session, actor, f, limit=limit, policy=policy)
    texts = dict(
        session.execute(
            select(Flag.id, Utterance.text).join(Utterance, Utterance.id == Flag.utterance_id).where(Flag.id.in_([r["id"] for r in rows]))
        ).all()
    )
    appealed = {
        fid: dec.value
        for fid, dec in session.execute(
            select(Review.flag_id, Review.decision).where(Review.kind == ReviewKind.APPEAL, Review.flag_id.in_([r["id"] for r in rows]))
        )
    }
    for row in rows:
        text = texts.get(row["id"])
        row["text"] = redact(actor, text, policy) if row["kind"] == FlagKind.FORBIDDEN.value else None
        if row["kind"] == FlagKind.MISSING_COURTESY.value:
            ids = [r.id for r in rulebook.required_rules] if rulebook is not None else []
            row["instead"] = " / ".join(p["wording"] for rid in ids for p in prescribed_phrases(rulebook, rid))
        else:
            row["instead"] = " / ".join(p["wording"] for p in prescribed_phrases(rulebook, row["rule_id"]))
        row["appeal"] = appealed.get(row["id"])
    return rows


def courtesy_used(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                  end: date | None = None) -> list[dict[str, Any]]:
    """How often each courtesy and telephone phrase was said by the staff member (their strengths)."""
    sid = staff_scope(actor, staff_id)
    query = (
        select(RuleHitRow.rule_id, func.count(RuleHitRow.id))
        .join(Interaction, Interaction.id == RuleHitRow.interaction_id)
        .where(RuleHitRow.family.in_([RuleFamily.COURTESY, RuleFamily.PHONE]))
        .group_by(RuleHitRow.rule_id)
        .order_by(func.count(RuleHitRow.id).desc())
    )
    if sid is not None:
        query = query.where(Interaction.staff_id == sid)
    else:
        require(actor, _ANALYTICS | {UserRole.INSPECTOR}, "see the whole hall's phrases")
    if start is not None:
        query = query.where(Interaction.started_at >= _day_start(start))
    if end is not None:
        query = query.where(Interaction.started_at < _day_end(end))
    return [{"rule_id": r, "times": n} for r, n in session.execute(query)]


def staff_ratings(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                  end: date | None = None, limit: int = 500, policy: AccessPolicy = DEFAULT_POLICY) -> list[dict[str, Any]]:
    """Ratings of the interactions a staff member served (comments redacted)."""
    sid = staff_scope(actor, staff_id)
    if sid is None:
        raise ValueError("name the staff member")
    query = (
        select(Rating.rated_at, Window.code, Rating.level, Rating.is_poor, Rating.comment, Rating.matter, FollowUp.status)
        .join(Window, Window.id == Rating.window_id)
        .outerjoin(FollowUp, FollowUp.rating_id == Rating.id)
        .where(Rating.staff_id == sid)
        .order_by(Rating.rated_at.desc())
        .limit(limit)
    )
    if start is not None:
        query = query.where(Rating.rated_at >= _day_start(start))
    if end is not None:
        query = query.where(Rating.rated_at < _day_end(end))
    return [
        {"rated_at": at, "window": w, "level": lvl, "poor": poor, "comment": redact(actor, c, policy), "matter": m,
         "follow_up": FOLLOW_UP_LABELS[st] if st else None}
        for at, w, lvl, poor, c, m, st in session.execute(query)
    ]


# ---------------------------------------------------------------------------- management


def _group_columns(by: str):
    if by == "staff":
        return Staff.id, Staff.staff_no, Staff.name
    if by == "window":
        return Window.id, Window.code, Window.name
    if by == "department":
        return Department.id, Department.code, Department.name
    raise ValueError(f"group by staff, window, department or month, not {by!r}")


def satisfaction(session: Session, actor: Actor, rulebook: Rulebook, *, by: str = "window", start: date | None = None,
                 end: date | None = None) -> list[dict[str, Any]]:
    """Good-rating rate (the rulebook's good levels, 非常满意+满意) and 差评 rate by window, department, staff or month."""
    require(actor, _ANALYTICS, "see satisfaction analytics")
    good = case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)
    poor = case((Rating.is_poor, 1), else_=0)
    measures = (func.count(Rating.id), func.sum(good), func.sum(poor))
    if by == "month":
        bucket = _bucket_expr(session, Rating.rated_at, "month")
        query = select(bucket, bucket, bucket, *measures).group_by(bucket).order_by(bucket)
    else:
        key, code, name = _group_columns(by)
        query = select(key, code, name, *measures).group_by(key, code, name)
        if by == "staff":
            query = query.join(Staff, Staff.id == Rating.staff_id)
        elif by == "window":
            query = query.join(Window, Window.id == Rating.window_id)
        else:
            query = query.join(Window, Window.id == Rating.window_id).join(Department, Department.id == Window.department_id)
    query = query.select_from(Rating)
    if start is not None:
        query = query.where(Rating.rated_at >= _day_start(start))
    if end is not None:
        query = query.where(Rating.rated_at < _day_end(end))
    out = []
    for _key, code, name, n, g, p in session.execute(query):
        out.append({"key": str(code), "name": str(name), "ratings": n, "good": int(g or 0), "poor": int(p or 0),
                    "good_rate": round((g or 0) / n, 4) if n else None, "poor_rate": round((p or 0) / n, 4) if n else None})
    if by != "month":
        out.sort(key=lambda r: (-(r["good_rate"] or 0), r["poor_rate"] or 0, r["key"]))
        for rank, row in enumerate(out, 1):
            row["rank"] = rank
    return out


def satisfaction_trend(session: Session, actor: Actor, rulebook: Rulebook, *, by: str = "window", start: date | None = None,
                       end: date | None = None) -> list[dict[str, Any]]:
    """Good and poor rates per month and group (long format, for a line chart)."""
    require(actor, _ANALYTICS, "see satisfaction analytics")
    key, code, _name = _group_columns(by)
    bucket = _bucket_expr(session, Rating.rated_at, "month")
    good = case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)
    query = select(bucket, code, func.count(Rating.id), func.sum(good), func.sum(case((Rating.is_poor, 1), else_=0))).select_from(Rating)
    if by == "staff":
        query = query.join(Staff, Staff.id == Rating.staff_id)
    elif by == "window":
        query = query.join(Window, Window.id == Rating.window_id)
    else:
        query = query.join(Window, Window.id == Rating.window_id).join(Department, Department.id == Window.department_id)
    query = query.group_by(bucket, code).order_by(bucket, code)
    if start is not None:
        query = query.where(Rating.rated_at >= _day_start(start))
    if end is not None:
        query = query.where(Rating.rated_at < _day_end(end))
    return [{"month": str(m), "key": c, "ratings": n, "good_rate": round((g or 0) / n, 4), "poor_rate": round((p or 0) / n, 4)}
            for m, c, n, g, p in session.execute(query)]


def follow_up_cases(session: Session, actor: Actor, *, statuses: Sequence[FollowUpStatus] = (), today: date | None = None,
                    limit: int = 500, policy: AccessPolicy = DEFAULT_POLICY) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """差评 follow-up cases by state and deadline: counts per state (overdue counted apart) and the cases, soonest due first."""
    require(actor, _ANALYTICS | {UserRole.INSPECTOR}, "see follow-up cases")
    today = today or date.today()
    counts: dict[str, int] = {}
    for st, n in session.execute(select(FollowUp.status, func.count(FollowUp.id)).group_by(FollowUp.status)):
        counts[FOLLOW_UP_LABELS[st]] = n
    counts["逾期"] = session.scalar(
        select(func.count(FollowUp.id)).where(FollowUp.status != FollowUpStatus.CLOSED, FollowUp.due_on < today)
    ) or 0
    query = (
        select(FollowUp.id, FollowUp.status, FollowUp.opened_on, FollowUp.due_on, Rating.level, Rating.comment, Window.code, Staff.staff_no, Staff.name)
        .join(Rating, Rating.id == FollowUp.rating_id)
        .join(Window, Window.id == Rating.window_id)
        .outerjoin(Staff, Staff.id == FollowUp.staff_id)
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    query = query.where(FollowUp.status.in_(statuses)) if statuses else query.where(FollowUp.status != FollowUpStatus.CLOSED)
    rows = [
        {"id": i, "status": FOLLOW_UP_LABELS[st], "opened_on": o, "due_on": d, "overdue": st is not FollowUpStatus.CLOSED and d < today,
         "level": lvl, "comment": redact(actor, c, policy), "window": w, "staff_no": sno, "staff_name": sname}
        for i, st, o, d, lvl, c, w, sno, sname in session.execute(query)
    ]
    return counts, rows


def advance_follow_up(session: Session, actor: Actor, case_id: int, step: FollowUpStatus, note: str) -> None:
    """Record a follow-up step (回访, 整改, 办结) on a 差评 case; managers and inspectors, audited.

    Raises:
        AccessDenied: another role.
        ValueError: no note, no such case, or the case is closed.
    """
    from scoring.ratings import advance_follow_up as _advance

    require(actor, _ANALYTICS | {UserRole.INSPECTOR}, "record follow-up steps")
    note = note.strip()
    if not note:
        raise ValueError("a follow-up step needs a note (what was said or done)")
    case = _advance(session, int(case_id), FollowUpStatus(step), note)
    audit(session, actor.username, "follow_up.step", "follow_up", case.id, step=case.status.value, note=note)


def compliance(session: Session, actor: Actor, *, by: str = "window", start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Courtesy and forbidden-phrase rates by window or staff (forbidden: flags not dismissed, per 100 interactions)."""
    require(actor, _ANALYTICS, "see compliance analytics")
    key, code, name = _group_columns(by)
    join_col = Interaction.staff_id if by == "staff" else Interaction.window_id
    iq = (
        select(
            key, code, name, func.count(Interaction.id),
            func.sum(case((Interaction.has_greeting, 1), else_=0)),
            func.sum(case((Interaction.has_farewell, 1), else_=0)),
            func.sum(case((and_(Interaction.has_greeting, Interaction.has_farewell), 1), else_=0)),
        )
        .select_from(Interaction)
        .join(Staff if by == "staff" else Window, key == join_col)
        .where(Interaction.served.is_(True))
        .group_by(key, code, name)
    )
    fcol = Flag.staff_id if by == "staff" else Flag.window_id
    fq = select(fcol, func.count(Flag.id)).where(Flag.kind == FlagKind.FORBIDDEN, Flag.status != FlagStatus.DISMISSED).group_by(fcol)
    if start is not None:
        iq = iq.where(Interaction.started_at >= _day_start(start))
        fq = fq.where(Flag.raised_at >= _day_start(start))
    if end is not None:
        iq = iq.where(Interaction.started_at < _day_end(end))
        fq = fq.where(Flag.raised_at < _day_end(end))
    forbidden = dict(session.execute(fq).all())
    out = []
    for k, c, nm, n, g, fw, both in session.execute(iq):
        fb = forbidden.get(k, 0)
        out.append({"key": c, "name": nm, "interactions": n, "greeting_rate": round(g / n, 4), "farewell_rate": round(fw / n, 4),
                    "both_rate": round(both / n, 4), "forbidden": fb, "forbidden_per_100": round(100 * fb / n, 2)})
    out.sort(key=lambda r: (-r["both_rate"], r["forbidden_per_100"], r["key"]))
    return out


def rules_most_broken(session: Session, actor: Actor, rulebook: Rulebook | None = None, *, start: date | None = None,
                      end: date | None = None) -> list[dict[str, Any]]:
    """Forbidden rules by how often they were broken (flags not dismissed), with missing courtesy alongside."""
    require(actor, _ANALYTICS, "see compliance analytics")
    rule = _flag_rule(Flag.evidence)
    query = select(Flag.kind, rule, func.count(Flag.id)).where(
        Flag.kind.in_([FlagKind.FORBIDDEN, FlagKind.MISSING_COURTESY]), Flag.status != FlagStatus.DISMISSED
    ).group_by(Flag.kind, rule)
    if start is not None:
        query = query.where(Flag.raised_at >= _day_start(start))
    if end is not None:
        query = query.where(Flag.raised_at < _day_end(end))
    out = []
    for kind, rid, n in session.execute(query):
        rid = rid if kind is FlagKind.FORBIDDEN else "courtesy.greet/farewell"
        wording = rulebook.by_id[rid].canonical if rulebook is not None and rid in rulebook.by_id else FLAG_KIND_LABELS[kind]
        out.append({"rule_id": rid, "wording": wording, "times": n})
    out.sort(key=lambda r: -r["times"])
    return out


def compliance_vs_satisfaction(session: Session, actor: Actor, rulebook: Rulebook, *, start: date | None = None,
                               end: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """How courtesy relates to ratings: rated interactions grouped by greeting/farewell said, and per staff member.

    Returns:
        ``{"by_courtesy": [...], "by_staff": [...]}``; ``by_courtesy`` has the good and poor rates
        and mean level rank (0 = best) for each of the four greeting/farewell combinations.
    """
    require(actor, _ANALYTICS, "see compliance analytics")
    good = case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)
    conds = [Rating.interaction_id.is_not(None)]
    if start is not None:
        conds.append(Rating.rated_at >= _day_start(start))
    if end is not None:
        conds.append(Rating.rated_at < _day_end(end))
    q = (
        select(Interaction.has_greeting, Interaction.has_farewell, func.count(Rating.id), func.sum(good),
               func.sum(case((Rating.is_poor, 1), else_=0)), func.avg(Rating.level_rank))
        .join(Interaction, Interaction.id == Rating.interaction_id)
        .where(*conds)
        .group_by(Interaction.has_greeting, Interaction.has_farewell)
    )
    label = {(True, True): "问候+道别", (True, False): "仅问候", (False, True): "仅道别", (False, False): "均未说"}
    by_courtesy = [
        {"courtesy": label[(bool(g), bool(f))], "greeting": bool(g), "farewell": bool(f), "ratings": n,
         "good_rate": round((gd or 0) / n, 4), "poor_rate": round((p or 0) / n, 4), "mean_rank": round(float(r), 3)}
        for g, f, n, gd, p, r in session.execute(q)
    ]
    by_courtesy.sort(key=lambda r: list(label.values()).index(r["courtesy"]))
    sq = (
        select(Staff.staff_no, Staff.name, func.count(Rating.id), func.sum(good),
               func.avg(case((and_(Interaction.has_greeting, Interaction.has_farewell), 1.0), else_=0.0)),
               func.avg(Interaction.score))
        .select_from(Rating)
        .join(Interaction, Interaction.id == Rating.interaction_id)
        .join(Staff, Staff.id == Interaction.staff_id)
        .where(*conds)
        .group_by(Staff.staff_no, Staff.name)
    )
    by_staff = [
        {"staff_no": no, "name": nm, "ratings": n, "good_rate": round((gd or 0) / n, 4), "courtesy_rate": round(float(c), 4), "avg_score": round(float(s), 1)}
        for no, nm, n, gd, c, s in session.execute(sq)
    ]
    return {"by_courtesy": by_courtesy, "by_staff": by_staff}


# ---------------------------------------------------------------------------- export


@dataclass
class Circular:
    """The monthly circular (按月通报): named sheets of rows, ready for xlsx or HTML."""

    month: str
    title: str
    sheets: dict[str, list[dict[str, Any]]]


def monthly_circular(session: Session, actor: Actor, month: str, rulebook: Rulebook, *, policy: AccessPolicy = DEFAULT_POLICY) -> Circular:
    """The month's circular for management: satisfaction, compliance, confirmed violations, attendance.

    Attendance comes from the stored classification (``windowqa attendance classify``); a month
    not classified yet has no attendance sheets.
    """
    from scoring.attendance_views import attendance_month  # that module imports this one: import it when used

    require(actor, _ANALYTICS, "export the monthly circular")
    first = datetime.strptime(month, "%Y-%m").date()
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    sheets: dict[str, list[dict[str, Any]]] = {
        "服务评价(按窗口)": satisfaction(session, actor, rulebook, by="window", start=first, end=last),
        "服务评价(按人员)": satisfaction(session, actor, rulebook, by="staff", start=first, end=last),
        "规范用语(按人员)": compliance(session, actor, by="staff", start=first, end=last),
        "常见问题": rules_most_broken(session, actor, rulebook, start=first, end=last),
    }
    _, confirmed = flag_queue(session, actor, FlagFilter(kinds=(FlagKind.FORBIDDEN, FlagKind.POOR_RATING), statuses=(FlagStatus.CONFIRMED,),
                                                         start=first, end=last), limit=1000, policy=policy)
    sheets["督查问题"] = [{k: r[k] for k in ("raised_at", "kind_label", "rule_id", "window", "staff_no", "staff_name", "summary")} for r in confirmed]
    att = attendance_month(session, actor, month)
    if att is not None:
        sheets["考勤(按人员)"] = [asdict(r) for r in att.staff]
        sheets["考勤(按窗口)"] = [asdict(r) for r in att.windows]
    return Circular(month, f"窗口服务月度通报 {month}", sheets)


def write_circular_xlsx(circular: Circular, target) -> Any:
    """Write the circular as an Excel workbook (one sheet per part) to a path or a binary file object."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, rows in circular.sheets.items():
        sheet = book.create_sheet(name[:31])
        columns = list(rows[0]) if rows else ["(无数据)"]
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(row.get(c)) for c in columns])
        sheet.freeze_panes = "A2"
    book.properties.title = circular.title
    book.save(target)
    return target


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    return value


def render_circular_html(circular: Circular) -> str:
    """The circular as a self-contained printable HTML page (print to PDF from the browser)."""
    from html import escape

    parts = [
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>{escape(circular.title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em;font-size:12px}"
        "th,td{border:1px solid #888;padding:3px 6px}th{background:#eee}@media print{h2{page-break-before:auto}}</style>",
        f"</head><body><h1>{escape(circular.title)}</h1>",
    ]
    for name, rows in circular.sheets.items():
        parts.append(f"<h2>{escape(name)}</h2>")
        if not rows:
            parts.append("<p>(无数据)</p>")
            continue
        columns = list(rows[0])
        parts.append("<table><tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape('' if row.get(c) is None else str(row.get(c)))}</td>" for c in columns) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def record_export(session: Session, actor: Actor, what: str, month: str, fmt: str) -> None:
    """Audit an export (who exported which month in which format)."""
    require(actor, _ANALYTICS, "export")
    audit(session, actor.username, "export", what, None, month=month, format=fmt)


# ---------------------------------------------------------------------------- accounts (admin)


def accounts(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every account (admins only)."""
    from scoring.accounts import list_accounts

    require(actor, _ADMIN, "manage accounts")
    return [{"username": a.username, "role": a.role.value, "staff_no": a.staff_no, "active": a.active, "created_at": a.created_at}
            for a in list_accounts(session)]


def admin_create_account(session: Session, actor: Actor, username: str, password: str, role: str, staff_no: str | None = None) -> None:
    """Create an account from the app (admins only, audited)."""
    from scoring.accounts import create_account

    require(actor, _ADMIN, "manage accounts")
    create_account(session, username, password, role, staff_no=staff_no or None, by=actor.username)


def admin_set_active(session: Session, actor: Actor, username: str, active: bool) -> None:
    """Enable or disable an account (admins only, audited; admins cannot disable themselves)."""
    from scoring.accounts import set_active

    require(actor, _ADMIN, "manage accounts")
    if username == actor.username and not active:
        raise ValueError("you cannot disable your own account")
    set_active(session, username, active, by=actor.username)


def audit_trail(session: Session, actor: Actor, *, limit: int = 200) -> list[dict[str, Any]]:
    """The latest audit log lines (admins only)."""
    from models.db import AuditLog

    require(actor, _ADMIN, "read the audit log")
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
    # reasons and notes are free text: mask personal numbers like everywhere else
    return [
        {"at": r.at, "actor": r.actor, "action": r.action, "entity": r.entity, "entity_id": r.entity_id,
         "detail": {k: redact(actor, v) if isinstance(v, str) else v for k, v in (r.detail or {}).items()}}
        for r in rows
    ]


__all__ = [
    "AccessDenied",
    "AccessPolicy",
    "Circular",
    "DEFAULT_POLICY",
    "FLAG_KIND_LABELS",
    "FlagDetail",
    "FlagFilter",
    "NotFound",
    "TranscriptLine",
    "accounts",
    "admin_create_account",
    "admin_set_active",
    "advance_follow_up",
    "appeals",
    "audit_trail",
    "compliance",
    "compliance_vs_satisfaction",
    "courtesy_used",
    "data_range",
    "decide_flag",
    "file_appeal",
    "flag_detail",
    "flag_queue",
    "follow_up_cases",
    "labelled_examples",
    "monthly_circular",
    "prescribed_phrases",
    "record_export",
    "redact",
    "render_circular_html",
    "require",
    "rule_on_appeal",
    "rules_most_broken",
    "satisfaction",
    "satisfaction_trend",
    "score_series",
    "staff_choices",
    "staff_flagged_utterances",
    "staff_ratings",
    "staff_scope",
    "window_choices",
    "write_circular_xlsx",
]
