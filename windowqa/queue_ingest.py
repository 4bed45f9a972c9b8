"""Queued ingest: ``windowqa ingest --queue`` registers recordings, Celery workers ingest them.

The command registers each file as ingest does (a ``pending`` recording by content hash, the
file copied into the shared archive) with an :class:`~models.db.IngestJob` row, and sends one
task per recording. A worker runs :func:`run_job` with its own engines: the one-file path of
in-process ingest (:meth:`windowqa.ingest._Run.ingest_one`), then the rebuild of the
recording's window-day (:func:`rebuild_window_day`).

Stored exactly once whatever happens: delivery is at-least-once (late acknowledgement, a task
of a dead worker delivered again), a done recording is never stored again (content hash, and
a locked re-check before storing), a failure of the file's content goes to the dead-letter
list at once, an outside failure is retried a bounded number of times, and so is a file whose
tries keep killing their worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.db import FailureKind, IngestJob, JobState, Recording, RecordingStatus, Window, WindowDayLock
from models.rulebook import Rulebook
from scoring.store import rescore_recording
from scoring.store.ratings import link_ratings
from windowqa.ingest import FileResult, IngestError, IngestOptions, open_run
from windowqa.ingest_files import collect_files

log = logging.getLogger("windowqa.queue")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


# ---------------------------------------------------------------------------- the command's side


@dataclass(frozen=True)
class QueueOptions:
    """What a worker needs besides the file to ingest it as the command was asked to.

    Attributes:
        window: window code.
        archive: keep the files in the archive folder (the workers' settings name it).
        channels: channel map spec in place of the window's.
        retry_failed: analyse again recordings that failed on their content.
        roles: classify mono utterances as staff/citizen.
        live: a segment of live capture (``capture --publish``): its forbidden phrases and
            citizen abuse become alerts (a batch of old recordings raises none).
        voice: the voice checks (``ingest --voice/--no-voice``): None turns them on when staff
            voiceprints are enrolled, as ``windowqa ingest`` does.
    """

    window: str
    archive: bool = True
    channels: str | None = None
    retry_failed: bool = False
    roles: bool = True
    live: bool = False
    voice: bool | None = None

    def as_task_args(self) -> dict[str, Any]:
        return {"window": self.window, "archive": self.archive, "channels": self.channels,
                "retry_failed": self.retry_failed, "roles": self.roles, "live": self.live, "voice": self.voice}

    def ingest_options(self, archive_dir: Path | None) -> IngestOptions:
        return IngestOptions(window=self.window, archive_dir=archive_dir if self.archive else None, progress=False,
                             retry_failed=self.retry_failed, channels=self.channels)


def enqueue(
    paths: Iterable[str | Path],
    options: QueueOptions,
    *,
    session_factory: sessionmaker[Session],
    rulebook: Rulebook,
    archive_dir: Path | None,
    send: Callable[[int, dict[str, Any]], None],
    clean_partial: bool = True,
) -> list[FileResult]:
    """Register each recording and send one task per recording (``send(job_id, options)``).

    A file already done is skipped; one whose job is queued or running is not sent twice; a
    file that cannot be registered (no start time, the archive) fails here, with its reason.
    ``clean_partial``: remove the window's partial archive copies first (not while a live
    capture is writing its next segment there).

    Raises:
        IngestError: the window is unknown or the channel map is not valid.
    """
    files, others = collect_files(paths)
    run = open_run(options.ingest_options(archive_dir), session_factory=session_factory, transcribe=None, matcher=None,
                   rulebook=rulebook, clean_partial=clean_partial)
    results = [FileResult(path=str(o), status="skipped", reason=f"not an audio file ({o.suffix or 'no suffix'})") for o in others]
    for path in files:
        result = run.register(path)
        results.append(result)
        if result.status != "queued":
            continue
        job_id = _queue_job(session_factory, result, run.window_id)
        if job_id is None:
            result.status, result.reason = "skipped", "already queued"
            continue
        send(job_id, options.as_task_args())
        result.reason = f"job {job_id}"
    return results


def _queue_job(session_factory: sessionmaker[Session], result: FileResult, window_id: int) -> int | None:
    """The recording's job, (re)set to queued; None when it is queued or running already."""
    with session_factory() as s, s.begin():
        recording = s.get(Recording, result.recording_id)
        job = s.scalar(select(IngestJob).where(IngestJob.recording_id == recording.id))
        if job is not None and job.state in (JobState.QUEUED, JobState.RUNNING):
            return None
        if job is None:
            job = IngestJob(recording_id=recording.id, attempts=0)
            s.add(job)
        job.window_id, job.path = window_id, recording.path
        job.day = recording.started_at.date() if recording.started_at else None
        job.state, job.reason, job.attempts, job.updated_at = JobState.QUEUED, None, 0, _now()
        s.flush()
        return job.id


# ---------------------------------------------------------------------------- the worker's side


@dataclass(frozen=True)
class Engines:
    """A worker's engines (built once per process) and where its archive is."""

    sessions: sessionmaker[Session]
    rulebook: Rulebook
    transcribe: Any
    matcher: Any
    role_classifier: Any | None
    asr_options: dict[str, Any] | None
    archive_dir: Path | None
    alert_webhook: bool = False  # a webhook URL is configured: new alerts wait for its delivery
    # (window code, wanted voice checks) -> that window's transcribe with its voice splitter; None: ``transcribe`` always
    transcribe_for: Callable[[str, bool | None], Any] | None = None


def voice_transcribe_for(sessions: sessionmaker[Session], transcriber: Any, matcher: Any,
                         voice_options: dict | None = None) -> Callable[[str, bool | None], Any]:
    """Per window, the speech transcriber with that window's voice splitter (its roster, the staff
    voiceprints enrolled now), as ``windowqa ingest`` builds it; without voiceprints the plain one.

    Raises (when called): ``windowqa.speech.voices.VoiceSetupError``: voice wanted but impossible, or
    unknown ``voice_options``.
    """
    from functools import cache

    from audio_capture.voice import build_voice_engine
    from windowqa.ingest import speech_transcriber
    from windowqa.speech.voices import site_voice_splitter

    engine = cache(lambda: build_voice_engine("dvector"))  # built on the first job that needs it, then kept

    def for_window(window: str, wanted: bool | None) -> Any:
        splitter = site_voice_splitter(sessions, window, wanted=wanted, options=voice_options, engine=engine)
        return speech_transcriber(transcriber, matcher=matcher, voice=splitter)

    return for_window


@dataclass
class JobOutcome:
    """What one delivery of a job did: ``state`` is the job's state afterwards; ``retry`` when
    an outside failure is to be tried again."""

    job_id: int
    state: JobState | None
    reason: str = ""
    retry: bool = False
    rebuilt: int = 0
    alerts: list[int] = field(default_factory=list)  # live alerts raised by this delivery
    result: FileResult | None = field(default=None, repr=False)


def run_job(job_id: int, task_args: dict[str, Any], engines: Engines, *, worker: str = "", max_attempts: int = 8) -> JobOutcome:
    """Ingest the job's recording with ``engines``, then rebuild its window-day.

    Args:
        job_id: an :class:`IngestJob` id.
        task_args: :meth:`QueueOptions.as_task_args` of the command that queued it.
        engines: the worker's engines.
        worker: the worker's name, shown by ``jobs status``.
        max_attempts: deliveries after which a job that never finished (its worker killed each
            time) is given up (dead letter).
    """
    claim = _claim(engines.sessions, job_id, worker, max_attempts)
    if claim is not None:
        return claim
    options = QueueOptions(**task_args)
    with engines.sessions() as s:
        path = Path(s.get(IngestJob, job_id).path)
    path = path if path.is_absolute() or engines.archive_dir is None else engines.archive_dir / path
    try:
        run = open_run(options.ingest_options(engines.archive_dir), session_factory=engines.sessions,
                       transcribe=_transcribe(engines, options), matcher=engines.matcher, rulebook=engines.rulebook,
                       role_classifier=engines.role_classifier if options.roles else None,
                       asr_options=engines.asr_options, clean_partial=False)
    except IngestError as exc:
        return finish(engines.sessions, job_id, JobState.DEAD, str(exc))
    result = run.ingest_one(path)
    if result.status in ("done", "skipped"):
        outcome = _rebuild_then_done(engines, job_id, result, live=options.live)
    elif result.failure_kind == FailureKind.CONTENT.value:
        outcome = finish(engines.sessions, job_id, JobState.DEAD, result.reason)
    else:
        outcome = finish(engines.sessions, job_id, JobState.FAILED, result.reason)
        outcome.retry = True
    outcome.result = result
    return outcome


def _transcribe(engines: Engines, options: QueueOptions) -> Any:
    """The job's transcribe: with the window's voice checks where the engines can build them."""
    from scoring.store import StoreError
    from windowqa.speech.voices import VoiceSetupError

    if engines.transcribe_for is None:
        return engines.transcribe
    try:
        return engines.transcribe_for(options.window, options.voice)
    except (VoiceSetupError, StoreError) as exc:  # a setting or the site, not the file: the job names it
        raise IngestError(f"voice checks of window {options.window}: {exc}") from None


def _claim(sessions: sessionmaker[Session], job_id: int, worker: str, max_attempts: int) -> JobOutcome | None:
    """Mark the job running for this delivery; an outcome when it is not to run (finished, gone,
    or tried too often)."""
    with sessions() as s, s.begin():
        job = s.get(IngestJob, job_id, with_for_update=True)
        if job is None:
            return JobOutcome(job_id, None, "no such job")
        if job.state in (JobState.DONE, JobState.DEAD):
            return JobOutcome(job_id, job.state, "finished before (a second delivery)")
        if job.state is JobState.RUNNING:  # the worker of the last try died during it
            job.reason = f"worker lost during try {job.attempts}" + (f" ({job.worker})" if job.worker else "")
        if job.attempts >= max_attempts:
            job.state, job.updated_at = JobState.DEAD, _now()
            job.reason = f"given up after {job.attempts} tries; last: {job.reason or 'unknown'}"
            return JobOutcome(job_id, JobState.DEAD, job.reason)
        job.attempts += 1
        job.state, job.worker, job.updated_at = JobState.RUNNING, worker or None, _now()
    return None


def finish(sessions: sessionmaker[Session], job_id: int, state: JobState, reason: str = "") -> JobOutcome:
    """Set the job's state and reason (the dead-letter list is the jobs in state ``dead``)."""
    with sessions() as s, s.begin():
        job = s.get(IngestJob, job_id)
        job.state, job.reason, job.updated_at = state, (reason or None) and reason[:2000], _now()
    if state is JobState.DEAD:
        log.warning("job %d dead: %s", job_id, reason)
    return JobOutcome(job_id, state, reason)


def _rebuild_then_done(engines: Engines, job_id: int, result: FileResult, *, live: bool = False) -> JobOutcome:
    from sqlalchemy.exc import SQLAlchemyError

    from scoring.store.alerts import raise_alerts

    with engines.sessions() as s:
        recording = s.get(Recording, result.recording_id)
        window_id, started_at = recording.window_id, recording.started_at
    rebuilt, alerts = 0, []
    try:
        if window_id is not None and started_at is not None:
            rebuilt = rebuild_window_day(engines.sessions, engines.rulebook, window_id, started_at.date())
        if live:  # before the job is done: a redelivery after a kill here raises them (once) again
            with engines.sessions() as s, s.begin():
                alerts = raise_alerts(s, result.recording_id, now=datetime.now(), webhook=engines.alert_webhook)
    except SQLAlchemyError as exc:  # the recording is stored; the rebuild is tried again
        outcome = finish(engines.sessions, job_id, JobState.FAILED, f"window-day rebuild: {getattr(exc, 'orig', exc)}")
        outcome.retry = True
        return outcome
    outcome = finish(engines.sessions, job_id, JobState.DONE, "" if result.status == "done" else result.reason)
    outcome.rebuilt, outcome.alerts = rebuilt, alerts
    return outcome


def _lock_row(sessions: sessionmaker[Session], window_id: int, day: date) -> None:
    try:
        with sessions() as s, s.begin():
            if s.get(WindowDayLock, (window_id, day)) is None:
                s.add(WindowDayLock(window_id=window_id, day=day, rebuilds=0))
    except IntegrityError:
        pass  # another worker made it first


def rebuild_window_day(sessions: sessionmaker[Session], rulebook: Rulebook, window_id: int, day: date) -> int:
    """Rebuild the interactions, scores and flags of one window-day, then link its ratings.

    Holds the window-day's lock row for the whole transaction: the first statement writes it
    (a row lock on PostgreSQL, the database's write lock on SQLite), so two workers never
    rebuild the same window-day at once. Every done recording of the day is re-scored in start
    order from its stored utterances and hits, so the result does not depend on the order in
    which the recordings arrived. Returns how many recordings were re-scored.
    """
    _lock_row(sessions, window_id, day)
    start = datetime.combine(day, time.min)
    end = start + timedelta(days=1)
    with sessions() as s, s.begin():
        key = (WindowDayLock.window_id == window_id) & (WindowDayLock.day == day)
        s.execute(update(WindowDayLock).where(key).values(rebuilds=WindowDayLock.rebuilds + 1, rebuilt_at=_now()))
        s.execute(select(WindowDayLock.day).where(key).with_for_update())
        recordings = s.scalars(
            select(Recording).where(Recording.window_id == window_id, Recording.status == RecordingStatus.DONE,
                                    Recording.started_at >= start, Recording.started_at < end)
            .order_by(Recording.started_at, Recording.id)
        ).all()
        for recording in recordings:
            rescore_recording(s, recording, rulebook)
        link = timedelta(minutes=rulebook.ratings.link_window_minutes)
        link_ratings(s, rulebook, window_id=window_id, start=start, end=end + link)
    return len(recordings)


# ---------------------------------------------------------------------------- status


@dataclass(frozen=True)
class DayStatus:
    """Jobs of one window and day by state, and the reasons of its failed and dead ones."""

    window: str
    day: date | None
    counts: dict[str, int]
    failures: list[tuple[str, str, str]]  # (state, path, reason)

    def line(self) -> str:
        counts = "  ".join(f"{state.value} {self.counts.get(state.value, 0)}" for state in JobState)
        return f"{self.window:6s} {self.day or '-'}  {counts}"


def job_status(session: Session, *, day: date | None = None, window: str | None = None) -> list[DayStatus]:
    """Queued / running / done / failed / dead jobs per window and day (read-only)."""
    query = (select(Window.code, IngestJob.day, IngestJob.state, func.count())
             .join(Window, Window.id == IngestJob.window_id, isouter=True)
             .group_by(Window.code, IngestJob.day, IngestJob.state))
    failed = (select(Window.code, IngestJob.day, IngestJob.state, IngestJob.path, IngestJob.reason)
              .join(Window, Window.id == IngestJob.window_id, isouter=True)
              .where(IngestJob.state.in_([JobState.FAILED, JobState.DEAD])).order_by(IngestJob.id))
    if day is not None:
        query, failed = query.where(IngestJob.day == day), failed.where(IngestJob.day == day)
    if window is not None:
        query, failed = query.where(Window.code == window), failed.where(Window.code == window)
    out: dict[tuple[str, date | None], DayStatus] = {}
    for code, d, state, n in session.execute(query):
        key = (code or "-", d)
        out.setdefault(key, DayStatus(key[0], d, {}, [])).counts[state.value] = n
    for code, d, state, path, reason in session.execute(failed):
        out[(code or "-", d)].failures.append((state.value, path, reason or ""))
    return [out[k] for k in sorted(out, key=lambda k: (k[0], k[1] or date.min))]


__all__ = [
    "DayStatus",
    "Engines",
    "JobOutcome",
    "QueueOptions",
    "enqueue",
    "finish",
    "job_status",
    "rebuild_window_day",
    "run_job",
]
