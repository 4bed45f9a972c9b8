"""The database: typed SQLAlchemy 2.0 tables, the engine factory and schema migrations.

One SQLite file under the data directory is the embedded default; a site points
``Settings.database_url`` at PostgreSQL instead. The schema is owned by Alembic
(``models/migrations``): :func:`init_db` runs ``upgrade heads`` on first use of a database and
never drops anything.

Conventions:
    * Every datetime is the hall's local wall-clock time, stored naive (the hall is one place,
      and schedules, ratings and queue exports are all written in local time).
    * Audio stays in the archive folder on disk; ``Recording.path`` is relative to
      ``Settings.resolved_archive_dir`` when the file lies inside it, absolute otherwise, and
      utterances hold offsets (``start_s``/``end_s``) into it.
    * Sessions live outside data functions (SQLAlchemy ``session_basics``): functions in
      ``scoring/`` take a ``Session``; CLIs and workers own ``with factory() as s, s.begin():``.

Other packages add their tables on :class:`Base` in their own module (``models/attendance_db.py``)
and their own Alembic revision in ``models/migrations/versions/`` on a branch of its own that
starts from ``0001_core`` (``down_revision="0001_core"``, ``branch_labels=("attendance",)``), so
that the histories never conflict; :func:`init_db` upgrades every head. (With
``down_revision=None`` + ``depends_on`` Alembic would record only the branch head and
``schema_is_current`` would stay False.)
"""

from __future__ import annotations

import enum
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker, Session

from models.domain import MatchMethod, Role, RuleFamily
from models.settings import Settings

log = logging.getLogger("models.db")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Stable constraint names so that Alembic migrations work the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DatabaseError(RuntimeError):
    """The database cannot be opened or migrated; the message names the URL and the reason."""


class Base(DeclarativeBase):
    """Declarative base of every windowqa table (attendance tables included)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the enum's value (not its Python name) as plain text: readable in SQL, no native
    # PostgreSQL enum types to migrate when a value is added.
    return Enum(cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


# ---------------------------------------------------------------------------- enums


class RecordingStatus(str, enum.Enum):
    """Where a recording stands in ingest; ``done`` recordings are never processed again."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class FailureKind(str, enum.Enum):
    """Why a recording failed, which decides when ingest tries it again.

    ``outside``: a cause outside the file's content (no start time, the archive disk, the
    database, a channel map that leaves speech unmapped): retried on the next ingest.
    ``content``: the audio itself (corrupt, undecodable, empty): retried only on request
    (``--retry-failed``), since the same bytes fail the same way.
    """

    OUTSIDE = "outside"
    CONTENT = "content"


class FlagKind(str, enum.Enum):
    """Why an inspector should look at something."""

    FORBIDDEN = "forbidden"  # a forbidden phrase said by staff
    POOR_RATING = "poor_rating"  # 差评
    MISSING_COURTESY = "missing_courtesy"  # no greeting and/or no farewell
    CITIZEN_ABUSE = "citizen_abuse"  # recorded to protect staff, never penalised
    OVERDUE_FOLLOW_UP = "overdue_follow_up"
    STAFF_MISMATCH = "staff_mismatch"  # terminal 工号 differs from the staff on duty
    UNLINKED_RATING = "unlinked_rating"  # no interaction found for a rating
    # any other lost point: a situational courtesy not said (请稍等 before a silence, 对不起让您久等了 after a long wait)
    SITUATIONAL = "situational"
    TELEPHONE = "telephone"  # a phrase a telephone call's situation calls for, not said (七.2)
    PERSONAL_CALL = "personal_call"  # a call while serving, not about the citizen's matter (二.4)
    REPEAT_VISIT = "repeat_visit"  # the same citizen back for the same matter (八.3 一次性告知, 八.4 两头跑)
    SITUATION_PHRASE = "situation_phrase"  # a 七.1 situation detected, its phrase not said


class FlagStatus(str, enum.Enum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class ReviewKind(str, enum.Enum):
    INSPECTION = "inspection"
    APPEAL = "appeal"  # staff contest a flag or a score


class ReviewDecision(str, enum.Enum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    ADJUST = "adjust"  # score changed by ``score_adjustment``
    PENDING = "pending"  # an appeal filed, not yet decided


class FollowUpStatus(str, enum.Enum):
    OPEN = "open"
    CALLED_BACK = "called_back"  # 回访 done
    RECTIFIED = "rectified"  # 整改 done
    CLOSED = "closed"


class UserRole(str, enum.Enum):
    ADMIN = "admin"
    MANAGER = "manager"
    INSPECTOR = "inspector"
    STAFF = "staff"


class RatingLinkStatus(str, enum.Enum):
    LINKED = "linked"
    UNLINKED = "unlinked"
    PENDING = "pending"  # not tried yet (e.g. imported before the recordings)


# ---------------------------------------------------------------------------- organisation

staff_window = Table(
    "staff_window",
    Base.metadata,
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("window_id", ForeignKey("window.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Base):
    """A department (部门) with staff at one or more windows."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    windows: Mapped[list["Window"]] = relationship(back_populates="department")
    staff: Mapped[list["Staff"]] = relationship(back_populates="department")


class Window(Base):
    """A service window (窗口); ``code`` is what CLIs and exports name it by (e.g. "A03")."""

    __tablename__ = "window"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    # Stereo recordings: which channel carries whom, e.g. {"0": "staff", "1": "citizen"}.
    channel_map: Mapped[Optional[dict[str, Any]]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Optional[Department]] = relationship(back_populates="windows")
    staff: Mapped[list["Staff"]] = relationship(secondary=staff_window, back_populates="windows")


class Staff(Base):
    """A member of staff; ``staff_no`` is the 工号 shown on the evaluation terminal."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_no: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[Optional[int]] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Optional[Department]] = relationship(back_populates="staff")
    windows: Mapped[list[Window]] = relationship(secondary=staff_window, back_populates="staff")


class RosterEntry(Base):
    """A planned duty: ``staff`` serves at ``window`` from ``starts_at`` until ``ends_at``."""

    __tablename__ = "roster_entry"
    __table_args__ = (
        UniqueConstraint("window_id", "staff_id", "starts_at"),
        Index("ix_roster_entry_window_time", "window_id", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("window.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(200), default="")

    window: Mapped[Window] = relationship()
    staff: Mapped[Staff] = relationship()


class Substitution(Base):
    """A filed substitute (替岗): ``substitute`` covers ``window`` instead of ``replaced``.

    ``replaced_id`` is None when the substitute covers a window nobody was rostered at.
    Only approved substitutions change who is on duty.
    """

    __tablename__ = "substitution"
    __table_args__ = (
        UniqueConstraint("window_id", "substitute_id", "starts_at"),
        Index("ix_substitution_window_time", "window_id", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("window.id"))
    substitute_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    replaced_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    filed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)

    window: Mapped[Window] = relationship()
    substitute: Mapped[Staff] = relationship(foreign_keys=[substitute_id])
    replaced: Mapped[Optional[Staff]] = relationship(foreign_keys=[replaced_id])


# ---------------------------------------------------------------------------- recordings


class Recording(Base):
    """One audio file in the archive, identified by the SHA-256 of its content."""

    __tablename__ = "recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    window_id: Mapped[Optional[int]] = mapped_column(ForeignKey("window.id"))
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    duration_s: Mapped[Optional[float]] = mapped_column(Float)
    channels: Mapped[Optional[int]] = mapped_column(Integer)
    status: Mapped[RecordingStatus] = mapped_column(_enum(RecordingStatus, "recording_status"), default=RecordingStatus.PENDING)
    failure_reason: Mapped[Optional[str]] = mapped_column(Text)
    # None: not failed, or failed before revision 0004 (then treated as outside: retried)
    failure_kind: Mapped[Optional[FailureKind]] = mapped_column(_enum(FailureKind, "recording_failure_kind"), nullable=True)
    rulebook_version: Mapped[Optional[str]] = mapped_column(String(64))
    asr_options: Mapped[Optional[dict[str, Any]]]  # model id and options that made the transcript
    pipeline_options: Mapped[Optional[dict[str, Any]]]  # speech pipeline and near-miss verification options
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    # Set by the retention job when it deleted the audio file; transcript, hits and scores stay.
    audio_deleted_at: Mapped[Optional[datetime]] = mapped_column(DateTime)

    window: Mapped[Optional[Window]] = relationship()
    utterances: Mapped[list["Utterance"]] = relationship(back_populates="recording", order_by="Utterance.seq")
    interactions: Mapped[list["Interaction"]] = relationship(back_populates="recording", order_by="Interaction.seq")


class Utterance(Base):
    """What one person said, with offsets into its recording and the staff on duty then."""

    __tablename__ = "utterance"
    __table_args__ = (UniqueConstraint("recording_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    text: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(_enum(Role, "speaker_role"))
    role_confidence: Mapped[float] = mapped_column(Float, default=1.0)
    channel: Mapped[Optional[int]] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    # Character bigrams of the text for transcript search (models.transcript_search), set when stored.
    search_text: Mapped[Optional[str]] = mapped_column(Text)

    recording: Mapped[Recording] = relationship(back_populates="utterances")
    staff: Mapped[Optional[Staff]] = relationship()
    interaction: Mapped[Optional["Interaction"]] = relationship(back_populates="utterances")
    hits: Mapped[list["RuleHitRow"]] = relationship(back_populates="utterance")


class Interaction(Base):
    """One citizen served at one window: a stretch of a recording with its score."""

    __tablename__ = "interaction"
    __table_args__ = (
        UniqueConstraint("recording_id", "seq"),
        Index("ix_interaction_window_end", "window_id", "ended_at"),
        Index("ix_interaction_window_start", "window_id", "started_at"),  # search: a window's lines newest first
        Index("ix_interaction_staff_start", "staff_id", "started_at"),
        Index("ix_interaction_started", "started_at"),  # dashboard: month and trend aggregates
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    window_id: Mapped[Optional[int]] = mapped_column(ForeignKey("window.id"))
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    ended_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    ticket_no: Mapped[Optional[str]] = mapped_column(String(64))
    queue_call_id: Mapped[Optional[int]] = mapped_column(ForeignKey("queue_call.id"))
    served: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())  # a citizen was there
    has_greeting: Mapped[bool] = mapped_column(Boolean, default=False)
    has_farewell: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float)
    # Line-by-line explanation: [{"rule_id", "reason", "points", "utterance_seq"}...]
    explanation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rulebook_version: Mapped[str] = mapped_column(String(64))
    # Cues that closed the interaction ("farewell", "silence", "queue_call", "end").
    split_reason: Mapped[str] = mapped_column(String(32), default="")

    recording: Mapped[Recording] = relationship(back_populates="interactions")
    window: Mapped[Optional[Window]] = relationship()
    staff: Mapped[Optional[Staff]] = relationship()
    utterances: Mapped[list[Utterance]] = relationship(back_populates="interaction", order_by="Utterance.seq")
    hits: Mapped[list["RuleHitRow"]] = relationship(back_populates="interaction")
    queue_call: Mapped[Optional["QueueCall"]] = relationship()


class RuleHitRow(Base):
    """A stored rule hit (``models.domain.RuleHit`` plus where and for whom it counts)."""

    __tablename__ = "rule_hit"
    __table_args__ = (
        Index("ix_rule_hit_rule", "rule_id"),
        Index("ix_rule_hit_rule_interaction", "rule_id", "interaction_id"),  # transcript search's rule filter, without row lookups
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    utterance_id: Mapped[int] = mapped_column(ForeignKey("utterance.id", ondelete="CASCADE"), index=True)
    interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    family: Mapped[RuleFamily] = mapped_column(_enum(RuleFamily, "rule_family"))
    method: Mapped[MatchMethod] = mapped_column(_enum(MatchMethod, "match_method"))
    score: Mapped[float] = mapped_column(Float)
    span_start: Mapped[int] = mapped_column(Integer)  # character offsets into the utterance text
    span_end: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rulebook_version: Mapped[str] = mapped_column(String(64))
    # the phrase classifier's version id (nlp.model_store) the matcher ran with; None before 0009
    classifier_version: Mapped[Optional[str]] = mapped_column(String(80), nullable=True)

    utterance: Mapped[Utterance] = relationship(back_populates="hits")
    interaction: Mapped[Optional[Interaction]] = relationship(back_populates="hits")


# ---------------------------------------------------------------------------- queue and ratings


class QueueCall(Base):
    """A call event (叫号) from the queue system: ticket ``ticket_no`` called to ``window``."""

    __tablename__ = "queue_call"
    __table_args__ = (
        UniqueConstraint("window_id", "ticket_no", "called_at"),
        Index("ix_queue_call_window_time", "window_id", "called_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("window.id"))
    ticket_no: Mapped[str] = mapped_column(String(64))
    called_at: Mapped[datetime] = mapped_column(DateTime)
    issued_at: Mapped[Optional[datetime]] = mapped_column(DateTime)  # ticket taken: wait = called - issued
    matter: Mapped[Optional[str]] = mapped_column(String(500))
    # Who took the ticket, as a salted hash of their ID (scoring.store.queue): never the ID itself.
    citizen_ref: Mapped[Optional[str]] = mapped_column(String(64), index=True)

    window: Mapped[Window] = relationship()


class Rating(Base):
    """One evaluation (好差评) from the terminal, as exported, with its link to an interaction.

    ``serial_no`` is the terminal's serial number, or a hash of the row's content when the
    export has none; either way re-importing a file changes nothing.
    """

    __tablename__ = "rating"
    __table_args__ = (
        Index("ix_rating_window_time", "window_id", "rated_at"),
        Index("ix_rating_rated", "rated_at"),  # dashboard: satisfaction by month
        Index("ix_rating_staff_time", "staff_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial_no: Mapped[str] = mapped_column(String(128), unique=True)
    rated_at: Mapped[datetime] = mapped_column(DateTime)
    window_id: Mapped[int] = mapped_column(ForeignKey("window.id"))
    terminal_staff_no: Mapped[Optional[str]] = mapped_column(String(64))  # 工号 shown on the terminal
    terminal_staff_name: Mapped[Optional[str]] = mapped_column(String(100))
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))  # who was actually serving
    level: Mapped[str] = mapped_column(String(16))  # one of rulebook [ratings].levels
    level_rank: Mapped[int] = mapped_column(Integer)  # 0 = best
    is_poor: Mapped[bool] = mapped_column(Boolean, default=False)
    vendor_code: Mapped[Optional[str]] = mapped_column(String(64))
    dimension_scores: Mapped[Optional[dict[str, Any]]]
    comment: Mapped[Optional[str]] = mapped_column(Text)
    matter: Mapped[Optional[str]] = mapped_column(String(500))
    interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"))
    link_status: Mapped[RatingLinkStatus] = mapped_column(_enum(RatingLinkStatus, "rating_link_status"), default=RatingLinkStatus.PENDING)
    source_file: Mapped[str] = mapped_column(String(1000), default="")
    source_line: Mapped[Optional[int]] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())

    window: Mapped[Window] = relationship()
    staff: Mapped[Optional[Staff]] = relationship()
    interaction: Mapped[Optional[Interaction]] = relationship()
    follow_up: Mapped[Optional["FollowUp"]] = relationship(back_populates="rating")


class FollowUp(Base):
    """A 差评 case: callback (回访) and rectification (整改) due within working days."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_status_due", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"), unique=True)
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[FollowUpStatus] = mapped_column(_enum(FollowUpStatus, "follow_up_status"), default=FollowUpStatus.OPEN)
    callback_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    callback_note: Mapped[Optional[str]] = mapped_column(Text)
    rectification: Mapped[Optional[str]] = mapped_column(Text)
    closed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)

    rating: Mapped[Rating] = relationship(back_populates="follow_up")
    staff: Mapped[Optional[Staff]] = relationship()


# ---------------------------------------------------------------------------- inspection


class Flag(Base):
    """Something for an inspector, with the evidence a reviewer needs.

    ``dedupe_key`` (kind plus the ids it is about) makes raising a flag idempotent.
    ``evidence`` holds e.g. {"recording": path, "start_s": .., "end_s": .., "text": .., "rule_id": ..}.
    """

    __tablename__ = "flag"
    __table_args__ = (
        Index("ix_flag_kind_status", "kind", "status"),
        Index("ix_flag_status_raised", "status", "raised_at"),  # dashboard: the inspector's queue
        Index("ix_flag_staff_raised", "staff_id", "raised_at"),  # dashboard: a staff member's flags
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[FlagKind] = mapped_column(_enum(FlagKind, "flag_kind"))
    severity: Mapped[str] = mapped_column(String(16), default="minor")
    penalised: Mapped[bool] = mapped_column(Boolean, default=True)  # False for citizen abuse
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    window_id: Mapped[Optional[int]] = mapped_column(ForeignKey("window.id"))
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    # SET NULL: re-scoring a recording rebuilds its interactions; flags and their reviews stay.
    interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"), index=True)
    utterance_id: Mapped[Optional[int]] = mapped_column(ForeignKey("utterance.id", ondelete="CASCADE"), index=True)
    recording_id: Mapped[Optional[int]] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[Optional[int]] = mapped_column(ForeignKey("rating.id", ondelete="CASCADE"))
    follow_up_id: Mapped[Optional[int]] = mapped_column(ForeignKey("follow_up.id", ondelete="CASCADE"))
    # A second interaction the flag is about (a repeat visit: the return; ``interaction_id`` is the first).
    linked_interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(500), default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[FlagStatus] = mapped_column(_enum(FlagStatus, "flag_status"), default=FlagStatus.OPEN)

    window: Mapped[Optional[Window]] = relationship()
    staff: Mapped[Optional[Staff]] = relationship()
    interaction: Mapped[Optional[Interaction]] = relationship(foreign_keys=[interaction_id])
    linked_interaction: Mapped[Optional[Interaction]] = relationship(foreign_keys=[linked_interaction_id])
    rating: Mapped[Optional[Rating]] = relationship()
    follow_up: Mapped[Optional[FollowUp]] = relationship()
    reviews: Mapped[list["Review"]] = relationship(back_populates="flag")


class Review(Base):
    """An inspector's decision on a flag or an interaction, or a staff appeal and its outcome."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReviewKind] = mapped_column(_enum(ReviewKind, "review_kind"))
    flag_id: Mapped[Optional[int]] = mapped_column(ForeignKey("flag.id", ondelete="CASCADE"), index=True)
    interaction_id: Mapped[Optional[int]] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"))
    reviewer_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    decision: Mapped[ReviewDecision] = mapped_column(_enum(ReviewDecision, "review_decision"))
    # The rule the reviewer decided the flagged utterance really is (changed rule); None otherwise.
    rule_id: Mapped[Optional[str]] = mapped_column(String(64))
    # An appeal's final ruling by the inspector (``comment`` holds the staff member's reason).
    ruling: Mapped[Optional[str]] = mapped_column(Text)
    score_adjustment: Mapped[float] = mapped_column(Float, default=0.0)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())
    decided_at: Mapped[Optional[datetime]] = mapped_column(DateTime)

    flag: Mapped[Optional[Flag]] = relationship(back_populates="reviews")
    reviewer: Mapped[Optional["UserAccount"]] = relationship()


class UserAccount(Base):
    """A dashboard login; ``password_hash`` is a bcrypt hash, never the password."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    staff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("staff.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())

    staff: Mapped[Optional[Staff]] = relationship()


class AuditLog(Base):
    """Who changed what, when: imports, reviews, appeals, follow-up steps, account changes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp(), index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a username, or "cli"/"ingest"
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64), default="")
    entity_id: Mapped[Optional[int]] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginThrottle(Base):
    """Recent failed dashboard logins of one user name or one client address, and its lockout.

    In the database (not in a process) so that every dashboard process counts the same failures.
    ``key`` is ``"account:"`` + an existing user name, ``"unknown:"`` + a short digest of a name
    that has no account (a password typed into the name field is never stored), or
    ``"address:"`` + the client address.
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # within the window that began at window_started_at
    window_started_at: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[Optional[datetime]] = mapped_column(DateTime)


class ImportRun(Base):
    """One run of an import (ratings, queue, site file) with its counts and rejected rows."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rejects: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"line": n, "reason": ".."}]


class JobState(str, enum.Enum):
    """Where a queued recording (``windowqa ingest --queue``) stands.

    ``dead``: the dead-letter list: a file that failed on its content, or failed every allowed
    try; never delivered again (``reason`` says why).
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # failed on an outside cause; a retry is scheduled
    DEAD = "dead"


class IngestJob(Base):
    """One recording handed to the workers: its state, tries and the reason of its last failure."""

    __tablename__ = "ingest_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"), unique=True)
    window_id: Mapped[Optional[int]] = mapped_column(ForeignKey("window.id"))
    day: Mapped[Optional[date]] = mapped_column(Date, index=True)  # the recording's local day
    path: Mapped[str] = mapped_column(String(1000))  # where the workers read the file
    state: Mapped[JobState] = mapped_column(_enum(JobState, "ingest_job_state"), default=JobState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # deliveries started (a killed worker's too)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    worker: Mapped[Optional[str]] = mapped_column(String(200))
    queued_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.current_timestamp())
    updated_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class WindowDayLock(Base):
    """One row per window and day: its rebuild holds this row locked, so that two workers never
    rebuild the same window-day at once (row lock on PostgreSQL, the write lock on SQLite)."""

    __tablename__ = "window_day_lock"

    window_id: Mapped[int] = mapped_column(ForeignKey("window.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rebuilds: Mapped[int] = mapped_column(Integer, default=0)
    rebuilt_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


# ---------------------------------------------------------------------------- engine and sessions


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = 30000) -> None:
    # Foreign keys are off by default in SQLite; WAL lets the dashboard read while ingest writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def make_engine(url_or_settings: str | Settings, *, echo: bool = False) -> Engine:
    """Create an engine for a URL (or for ``Settings``), creating the SQLite folder if needed.

    Args:
        url_or_settings: a SQLAlchemy URL, or the ``Settings`` built at the edge (CLI, dashboard,
            demo runner): its ``resolved_database_url`` and busy timeout.
        echo: log every SQL statement.

    Returns:
        The engine; the schema is not touched (call :func:`init_db`).
    """
    url = url_or_settings.resolved_database_url if isinstance(url_or_settings, Settings) else url_or_settings
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo)
    if engine.dialect.name == "sqlite":
        busy_ms = int(url_or_settings.database_busy_timeout_s * 1000) if isinstance(url_or_settings, Settings) else 30000
        event.listen(engine, "connect", lambda connection, record: _sqlite_pragmas(connection, record, busy_ms))
    return engine


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at every Alembic head (read-only)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        script = ScriptDirectory.from_config(_alembic_config(connection))
        current = set(MigrationContext.configure(connection).get_current_heads())
        return current == set(script.get_heads())


def init_db(engine: Engine) -> Engine:
    """Bring the schema up to date: ``alembic upgrade heads`` (creates it on a new database).

    Never drops anything. Cheap when the database is already current.

    Raises:
        DatabaseError: the database cannot be reached or a migration fails.
    """
    from alembic import command

    try:
        if schema_is_current(engine):
            return engine
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "heads")
    except Exception as exc:  # pragma: no cover - the message is what matters
        raise DatabaseError(f"{engine.url.render_as_string(hide_password=True)}: cannot migrate the schema: {exc}") from exc
    log.info("database schema at head: %s", engine.url.render_as_string(hide_password=True))
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A ``sessionmaker`` bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def open_database(settings: Settings | str) -> sessionmaker[Session]:
    """Engine + migrations + session factory in one call, for CLIs and workers."""
    return make_session_factory(init_db(make_engine(settings)))


__all__ = [
    "AuditLog",
    "Base",
    "DatabaseError",
    "FailureKind",
    "Department",
    "Flag",
    "FlagKind",
    "FlagStatus",
    "FollowUp",
    "FollowUpStatus",
    "ImportRun",
    "IngestJob",
    "JobState",
    "WindowDayLock",
    "LoginThrottle",
    "Interaction",
    "QueueCall",
    "Rating",
    "RatingLinkStatus",
    "RecordingStatus",
    "Recording",
    "Review",
    "ReviewDecision",
    "ReviewKind",
    "RosterEntry",
    "RuleHitRow",
    "Staff",
    "Substitution",
    "UserAccount",
    "UserRole",
    "Utterance",
    "Window",
    "init_db",
    "make_engine",
    "make_session_factory",
    "open_database",
    "schema_is_current",
    "staff_window",
]
