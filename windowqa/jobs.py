"""Scheduled jobs: overdue follow-ups, the day's attendance, audio retention, the consistency check, month totals.

Each job is a plain function of a :class:`JobRun` (session factory, settings, rulebook, the time it
runs at) returning a typed result; :func:`run_job` runs one by name and writes one audit line per
run. The same functions run from cron (``windowqa jobs run NAME``) and as Celery beat tasks
(:mod:`windowqa.worker`), so a hall without a broker loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Protocol

from sqlalchemy import exists, func, or_, select, union
from sqlalchemy.orm import Session, sessionmaker

from models.db import (
    Flag,
    FlagStatus,
    FollowUp,
    Interaction,
    Rating,
    Recording,
    RecordingStatus,
    Review,
    ReviewDecision,
    ReviewKind,
    Utterance,
)
from models.rulebook import Rulebook
from models.settings import Settings

log = logging.getLogger("windowqa.jobs")

AUDIT_ACTOR = "jobs"


@dataclass(frozen=True)
class JobRun:
    """What every job is given.

    Attributes:
        sessions: the store's session factory.
        settings: the site settings (retention days, stuck threshold, calendar).
        rulebook: the rulebook in force (attendance times, leave types).
        at: when the job runs; its date is "today" for the job (tests and catch-up runs pass one).
    """

    sessions: sessionmaker[Session]
    settings: Settings
    rulebook: Rulebook
    at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))


class JobResult(Protocol):
    """A job's typed result: lines for the command line, a dict for the audit line."""

    ok: bool

    def lines(self) -> list[str]: ...

    def audit_detail(self) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------- overdue follow-ups


@dataclass(frozen=True)
class OverdueFollowUpsResult:
    day: date
    new_flags: int
    ok: bool = True

    def lines(self) -> list[str]:
        return [f"{self.day}: {self.new_flags} new overdue follow-up flag(s)"]

    def audit_detail(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "new_flags": self.new_flags}


def overdue_follow_ups(run: JobRun) -> OverdueFollowUpsResult:
    """Flag every follow-up case not closed by its due date (idempotent: a case is flagged once)."""
    from scoring.store.ratings import flag_overdue_follow_ups

    with run.sessions() as session, session.begin():
        created = flag_overdue_follow_ups(session, run.at.date())
    return OverdueFollowUpsResult(day=run.at.date(), new_flags=created)


# ---------------------------------------------------------------------------- attendance


@dataclass(frozen=True)
class AttendanceDayResult:
    day: date
    month: str
    summary: str  # attendance.classify.describe of the stored month
    ok: bool = True

    def lines(self) -> list[str]:
        return [self.summary]

    def audit_detail(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "month": self.month}


def attendance_day(run: JobRun) -> AttendanceDayResult:
    """Classify the month of the run's day up to that day and store it (as ``attendance classify --day``).

    Raises:
        models.workdays.CalendarFileError: the settings' site calendar cannot be read.
    """
    from attendance.classify import classify_and_store, describe
    from models.workdays import WorkCalendar

    day = run.at.date()
    month = f"{day:%Y-%m}"
    calendar = WorkCalendar.from_file(run.settings.calendar_path)
    with run.sessions() as session, session.begin():
        result = classify_and_store(session, month, run.rulebook, calendar, through=day,
                                    calendar_path=run.settings.calendar_path)
        summary = describe(result)
    return AttendanceDayResult(day=day, month=month, summary=summary)


# ---------------------------------------------------------------------------- month totals


def month_totals(run: JobRun):
    """Store every finished month's management totals that is missing or stale (the current month is read live).

    Returns:
        scoring.store.month_totals.MonthTotalsResult
    """
    from scoring.store.month_totals import refresh_month_totals

    with run.sessions() as session, session.begin():
        return refresh_month_totals(session, run.rulebook, run.at.date(), at=run.at)


# ---------------------------------------------------------------------------- audio retention


@dataclass(frozen=True)
class RetentionOptions:
    """``retention_days``: audio recorded longer ago than this is deleted (unless a flag holds it)."""

    retention_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetentionOptions":
        return cls(retention_days=settings.audio_retention_days)


@dataclass(frozen=True)
class RetentionResult:
    options: RetentionOptions
    cutoff: datetime  # audio recorded before this was due
    deleted: list[str]  # paths of the audio files deleted now
    already_gone: list[str]  # due files that were not on disk any more (recorded as deleted too)
    held: list[int]  # recording ids kept because an open or appealed flag needs the audio
    failed: list[str]  # "path: reason" of files that could not be deleted (tried again next run)
    bytes_freed: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        out = [f"audio recorded before {self.cutoff:%Y-%m-%d %H:%M} ({self.options.retention_days} days): "
               f"{len(self.deleted)} file(s) deleted ({self.bytes_freed / 1e6:.1f} MB), "
               f"{len(self.already_gone)} already gone, {len(self.held)} kept for open or appealed flags"]
        out += [f"not deleted  {f}" for f in self.failed]
        return out

    def audit_detail(self) -> dict[str, Any]:
        return {"retention_days": self.options.retention_days, "cutoff": self.cutoff.isoformat(sep=" "),
                "deleted": len(self.deleted), "already_gone": len(self.already_gone), "held": self.held,
                "failed": self.failed, "bytes_freed": self.bytes_freed}


def _live_flag():
    """A flag still under way: open, or with an appeal not yet decided."""
    pending_appeal = exists().where(Review.flag_id == Flag.id, Review.kind == ReviewKind.APPEAL,
                                    Review.decision == ReviewDecision.PENDING)
    return or_(Flag.status == FlagStatus.OPEN, pending_appeal)


def held_recording_ids(session: Session) -> set[int]:
    """Recordings whose audio a live flag needs, whichever way the flag points at them.

    A flag names its recording directly, or through its utterance, its interaction, its rating's
    interaction, or its follow-up case's rating's interaction.
    """
    live = _live_flag()
    direct = select(Flag.recording_id.label("rid")).where(live, Flag.recording_id.is_not(None))
    by_utterance = select(Utterance.recording_id).join(Flag, Flag.utterance_id == Utterance.id).where(live)
    by_interaction = select(Interaction.recording_id).join(Flag, Flag.interaction_id == Interaction.id).where(live)
    by_rating = (select(Interaction.recording_id).join(Rating, Rating.interaction_id == Interaction.id)
                 .join(Flag, Flag.rating_id == Rating.id).where(live))
    by_follow_up = (select(Interaction.recording_id).join(Rating, Rating.interaction_id == Interaction.id)
                    .join(FollowUp, FollowUp.rating_id == Rating.id).join(Flag, Flag.follow_up_id == FollowUp.id)
                    .where(live))
    rows = session.execute(union(direct, by_utterance, by_interaction, by_rating, by_follow_up)).scalars()
    return {rid for rid in rows if rid is not None}


def audio_file(stored_path: str, archive_dir: Path) -> Path:
    """Where a recording's audio is: ingest stores archived files relative to ``archive_dir``."""
    path = Path(stored_path)
    return path if path.is_absolute() else archive_dir / path


def _delete_audio(path: Path) -> tuple[str, int]:
    """Delete one file: ("deleted", size), ("gone", 0) when it was not there."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return "gone", 0
    return "deleted", size


def retention(run: JobRun, options: RetentionOptions | None = None) -> RetentionResult:
    """Delete the audio recorded more than ``retention_days`` ago, except what live flags need.

    Only the audio file goes: the recording row (with ``audio_deleted_at`` set), its utterances,
    hits, interactions, scores and flags all stay. Audio held by a flag is deleted by a later run
    once the flag is closed (confirmed or dismissed with no pending appeal).
    """
    options = options or RetentionOptions.from_settings(run.settings)
    cutoff = run.at - timedelta(days=options.retention_days)
    archive_dir = run.settings.resolved_archive_dir
    recorded_at = func.coalesce(Recording.started_at, Recording.created_at)
    deleted: list[str] = []
    gone: list[str] = []
    failed: list[str] = []
    freed = 0
    with run.sessions() as session, session.begin():
        held = held_recording_ids(session)
        due = session.scalars(
            select(Recording).where(Recording.audio_deleted_at.is_(None), recorded_at < cutoff).order_by(Recording.id)
        ).all()
        for rec in due:
            if rec.id in held:
                continue
            try:
                outcome, size = _delete_audio(audio_file(rec.path, archive_dir))
            except OSError as exc:
                failed.append(f"{rec.path}: {exc.strerror or exc}")
                continue
            (deleted if outcome == "deleted" else gone).append(rec.path)
            freed += size
            rec.audio_deleted_at = run.at
    held_due = sorted(r.id for r in due if r.id in held)
    log.info("retention: %d deleted, %d gone, %d held", len(deleted), len(gone), len(held_due))
    return RetentionResult(options, cutoff, deleted, gone, held_due, failed, freed)


# ---------------------------------------------------------------------------- consistency


@dataclass(frozen=True)
class ConsistencyOptions:
    """``stuck_after_hours``: a recording still pending after this long is reported."""

    stuck_after_hours: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "ConsistencyOptions":
        return cls(stuck_after_hours=settings.stuck_after_hours)


@dataclass(frozen=True)
class RecordingProblem:
    """One recording the consistency check reports.

    ``problem`` is ``stuck`` (pending too long), ``failed`` (with the ingest's reason) or
    ``missing_file`` (the audio is not on disk although no retention run deleted it).
    """

    recording_id: int
    path: str
    window: str | None
    status: str
    problem: str
    since: datetime | None
    reason: str = ""

    def line(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M}" if self.since else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"#{self.recording_id:<6} {self.problem:12s} {self.window or '-'} {self.path} ({self.status}{since}){reason}"


@dataclass(frozen=True)
class ConsistencyResult:
    options: ConsistencyOptions
    checked: int
    problems: list[RecordingProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.problem] = out.get(p.problem, 0) + 1
        return out

    def lines(self) -> list[str]:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items())) or "no problem"
        return [f"{self.checked} recording(s) checked: {counts}"] + [p.line() for p in self.problems]

    def audit_detail(self) -> dict[str, Any]:
        return {"stuck_after_hours": self.options.stuck_after_hours, "checked": self.checked, "counts": self.counts(),
                "recording_ids": [p.recording_id for p in self.problems][:500]}


def _problem(rec: Recording, kind: str, since: datetime | None, reason: str = "") -> RecordingProblem:
    return RecordingProblem(rec.id, rec.path, rec.window.code if rec.window else None, rec.status.value, kind, since, reason)


def consistency(run: JobRun, options: ConsistencyOptions | None = None) -> ConsistencyResult:
    """List recordings stuck in any state: pending too long, failed, or audio missing on disk."""
    options = options or ConsistencyOptions.from_settings(run.settings)
    stuck_before = run.at - timedelta(hours=options.stuck_after_hours)
    archive_dir = run.settings.resolved_archive_dir
    problems: list[RecordingProblem] = []
    checked = 0
    with run.sessions() as session:
        for rec in session.scalars(select(Recording).order_by(Recording.id)).yield_per(500):
            checked += 1
            if rec.status is RecordingStatus.PENDING and rec.created_at < stuck_before:
                problems.append(_problem(rec, "stuck", rec.created_at))
            elif rec.status is RecordingStatus.FAILED:
                problems.append(_problem(rec, "failed", rec.finished_at, rec.failure_reason or ""))
            if rec.audio_deleted_at is None and not audio_file(rec.path, archive_dir).is_file():
                problems.append(_problem(rec, "missing_file", None))
    return ConsistencyResult(options, checked, problems)


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Job:
    name: str
    summary: str
    run: Callable[[JobRun], JobResult]


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("overdue-followups", "flag follow-up cases (回访/整改) past their due date", overdue_follow_ups),
        Job("attendance-day", "classify and store the day's attendance (its month up to the day)", attendance_day),
        Job("retention", "delete audio older than audio_retention_days, except under open or appealed flags", retention),
        Job("consistency", "list recordings stuck pending, failed, or with their audio missing", consistency),
        Job("month-totals", "store the management totals of every finished month not stored or stale", month_totals),
    )
}


class UnknownJobError(KeyError):
    """No job of that name."""

    def __str__(self) -> str:
        return f"no job {self.args[0]!r}; jobs: {', '.join(JOBS)}"


def run_job(name: str, run: JobRun) -> JobResult:
    """Run the job ``name`` and write its audit line (``job.NAME``; ``job.NAME.failed`` on an error).

    Raises:
        UnknownJobError: no such job.
        Exception: whatever the job raised, after its failure was audited.
    """
    from scoring.accounts import audit

    job = JOBS.get(name)
    if job is None:
        raise UnknownJobError(name)
    try:
        result = job.run(run)
    except Exception as exc:
        with run.sessions() as session, session.begin():
            audit(session, AUDIT_ACTOR, f"job.{name}.failed", "job", None, at=run.at.isoformat(sep=" "), error=str(exc)[:500])
        raise
    with run.sessions() as session, session.begin():
        audit(session, AUDIT_ACTOR, f"job.{name}", "job", None, at=run.at.isoformat(sep=" "), ok=result.ok,
              **result.audit_detail())
    return result


__all__ = [
    "JOBS",
    "AttendanceDayResult",
    "ConsistencyOptions",
    "ConsistencyResult",
    "Job",
    "JobResult",
    "JobRun",
    "OverdueFollowUpsResult",
    "RecordingProblem",
    "RetentionOptions",
    "RetentionResult",
    "UnknownJobError",
    "attendance_day",
    "audio_file",
    "consistency",
    "held_recording_ids",
    "month_totals",
    "overdue_follow_ups",
    "retention",
    "run_job",
]
