"""Staff views: a staff member's scores, flagged utterances, courtesy used well and ratings.

Staff see only their own (:func:`scoring.access.policy.staff_scope`); inspectors and management
may name a staff member, and take the whole hall where a function says so.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Literal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, FollowUp, Interaction, Rating, Review, ReviewKind, RuleHitRow, UserRole, Utterance, Window
from models.domain import RuleFamily
from models.rulebook import Rulebook
from scoring.access.feedback import STAFF_FLAG_KINDS, acknowledged
from scoring.access.flags import FlagFilter, FlagRow, flag_queue, prescribed_phrases
from scoring.access.policy import ANALYTICS, DEFAULT_POLICY, FOLLOW_UP_LABELS, AccessPolicy, bucket_expr, day_end, day_start, redact, require, staff_scope
from scoring.accounts import Actor
from scoring.effective import effective_score, score_adjustments


@dataclass(frozen=True)
class ScorePoint:
    """One day or month of a score series: the mean effective score and courtesy rates."""

    period: str
    interactions: int
    avg_score: float | None
    greeting_rate: float
    farewell_rate: float


@dataclass(frozen=True)
class StaffFlagRow(FlagRow):
    """A staff member's flag with the utterance, the phrase to use instead and any appeal's state."""

    text: str | None = None
    instead: str = ""
    appeal: str | None = None
    acked_at: datetime | None = None  # when the staff member acknowledged it (已阅); None: new to them


@dataclass(frozen=True)
class PhraseUse:
    """How often a courtesy or telephone phrase was said."""

    rule_id: str
    times: int


@dataclass(frozen=True)
class StaffRating:
    """A rating of an interaction the staff member served (comment and matter redacted)."""

    rated_at: datetime
    window: str
    level: str
    poor: bool
    comment: str | None
    matter: str | None
    follow_up: str | None


def score_series(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                 end: date | None = None, period: Literal["day", "month"] = "day") -> list[ScorePoint]:
    """Average score, courtesy rates and counts per day or month (one staff member, or the whole hall for management).

    Staff get their own series only; inspectors and management may name a staff member or
    take the hall. The score is the effective score (:mod:`scoring.effective`).
    """
    sid = staff_scope(actor, staff_id)
    if sid is None:
        require(actor, ANALYTICS | {UserRole.INSPECTOR}, "see the whole hall's scores")
    adj = score_adjustments()
    bucket = bucket_expr(session, Interaction.started_at, period)
    query = (
        select(
            bucket.label("bucket"),
            func.count(Interaction.id),
            func.avg(effective_score(adj)),
            func.avg(case((Interaction.has_greeting, 1.0), else_=0.0)),
            func.avg(case((Interaction.has_farewell, 1.0), else_=0.0)),
        )
        .outerjoin(adj, adj.c.interaction_id == Interaction.id)
        .where(Interaction.served.is_(True))
        .group_by(bucket)
        .order_by(bucket)
    )
    if sid is not None:
        query = query.where(Interaction.staff_id == sid)
    if start is not None:
        query = query.where(Interaction.started_at >= day_start(start))
    if end is not None:
        query = query.where(Interaction.started_at < day_end(end))
    return [
        ScorePoint(str(b), n, round(float(s), 1) if s is not None else None, round(float(g), 3), round(float(fw), 3))
        for b, n, s, g, fw in session.execute(query)
    ]


def staff_flagged_utterances(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                             end: date | None = None, rulebook: Rulebook | None = None, limit: int = 200,
                             policy: AccessPolicy = DEFAULT_POLICY) -> list[StaffFlagRow]:
    """Every flag that counts against a staff member, each with the phrase the rulebook prescribes.

    Every lost point is one of these (a forbidden phrase, a courtesy or situational phrase not said),
    and so are a 差评 and a 工号 mismatch at the terminal; each can be appealed.
    """
    sid = staff_scope(actor, staff_id)
    if sid is None:
        raise ValueError("name the staff member")
    f = FlagFilter(staff_ids=(sid,), kinds=STAFF_FLAG_KINDS, statuses=(), start=start, end=end)
    _, rows = flag_queue(session, actor, f, limit=limit, policy=policy)
    ids = [r.id for r in rows]
    texts = {
        fid: text for fid, kind, text, ev in session.execute(
            select(Flag.id, Flag.kind, Utterance.text, Flag.evidence).join(Utterance, Utterance.id == Flag.utterance_id).where(Flag.id.in_(ids)))
        # a situational flag about the whole interaction (a long wait) names no line
        # the flagged words: a forbidden phrase, what showed a 七.1 situation whose phrase was missing, a situational line
        if kind in (FlagKind.FORBIDDEN, FlagKind.SITUATION_PHRASE) or (kind is FlagKind.SITUATIONAL and (ev or {}).get("line_seq") is not None)
    }
    appealed = {
        fid: dec.value
        for fid, dec in session.execute(select(Review.flag_id, Review.decision).where(Review.kind == ReviewKind.APPEAL, Review.flag_id.in_(ids)))
    }
    acked = acknowledged(session, actor, ids) if actor.role is UserRole.STAFF else {}
    out = []
    for row in rows:
        if row.kind == FlagKind.MISSING_COURTESY.value:
            required = [r.id for r in rulebook.required_rules] if rulebook is not None else []
            instead = " / ".join(p.wording for rid in required for p in prescribed_phrases(rulebook, rid))
        else:
            instead = " / ".join(p.wording for p in prescribed_phrases(rulebook, row.rule_id))
        text = redact(actor, texts.get(row.id), policy)
        base = {fl.name: getattr(row, fl.name) for fl in fields(FlagRow)}
        out.append(StaffFlagRow(**base, text=text, instead=instead, appeal=appealed.get(row.id), acked_at=acked.get(row.id)))
    return out


def courtesy_used(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                  end: date | None = None) -> list[PhraseUse]:
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
        require(actor, ANALYTICS | {UserRole.INSPECTOR}, "see the whole hall's phrases")
    if start is not None:
        query = query.where(Interaction.started_at >= day_start(start))
    if end is not None:
        query = query.where(Interaction.started_at < day_end(end))
    return [PhraseUse(r, n) for r, n in session.execute(query)]


def staff_ratings(session: Session, actor: Actor, *, staff_id: int | None = None, start: date | None = None,
                  end: date | None = None, limit: int = 500, policy: AccessPolicy = DEFAULT_POLICY) -> list[StaffRating]:
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
        query = query.where(Rating.rated_at >= day_start(start))
    if end is not None:
        query = query.where(Rating.rated_at < day_end(end))
    return [
        StaffRating(at, w, lvl, poor, redact(actor, c, policy), redact(actor, m, policy), FOLLOW_UP_LABELS[st] if st else None)
        for at, w, lvl, poor, c, m, st in session.execute(query)
    ]
