"""The Celery app of ``windowqa worker`` and ``windowqa beat``: a Redis broker, results in the database.

:func:`make_celery` builds the app from :class:`Settings` (the command line is the edge that
builds them). Tasks keep no Celery results: what they do is written to the store, like the
in-process commands. Delivery is at-least-once (late acknowledgement, redelivery when a worker
process dies), so every task is idempotent; retries are bounded (``task_max_retries``).

Each worker process holds one :class:`WorkerState`: session factory, rulebook and, for the tasks
that need them, the matcher and transcriber, each built on first use and never per task. A
prefork child drops what it inherited from the parent at ``worker_process_init`` (database
connections must not cross a fork) and builds its own.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from models.rulebook import Rulebook
from models.settings import Settings

if TYPE_CHECKING:
    from celery import Celery
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("windowqa.worker")

RUN_JOB_TASK = "windowqa.jobs.run"
INGEST_TASK = "windowqa.ingest.recording"
# A task failing on an outside cause (database unreachable or locked) is retried after this
# many seconds, doubling each time, at most this often (the settings' task_max_retries).
RETRY_BACKOFF_S = 10


class WorkerState:
    """What one worker process builds once and every task of that process shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def sessions(self) -> "sessionmaker[Session]":
        from models.db import open_database

        return open_database(self.settings)

    @cached_property
    def rulebook(self) -> Rulebook:
        from models.rulebook import load_rulebook

        return load_rulebook(self.settings.rulebook_path)

    @cached_property
    def matcher(self) -> Any:
        from windowqa.engines import site_matcher

        return site_matcher(self.settings, self.rulebook)

    @cached_property
    def transcriber(self) -> Any:
        from windowqa.engines import site_transcriber

        return site_transcriber(self.settings)

    @cached_property
    def role_classifier(self) -> Any:
        from nlp.role import build_role_classifier

        return build_role_classifier()

    @cached_property
    def engines(self) -> Any:
        """The queued ingest's engines (:class:`windowqa.queue_ingest.Engines`), as ``windowqa ingest`` builds them."""
        from windowqa.ingest import speech_transcriber
        from windowqa.queue_ingest import Engines, voice_transcribe_for

        transcriber = self.transcriber
        return Engines(self.sessions, self.rulebook, speech_transcriber(transcriber, matcher=self.matcher), self.matcher,
                       self.role_classifier, transcriber.describe() if hasattr(transcriber, "describe") else None,
                       self.settings.resolved_archive_dir, alert_webhook=bool(self.settings.alert_webhook_url),
                       transcribe_for=voice_transcribe_for(self.sessions, transcriber, self.matcher, self.settings.voice_options))

    def close(self) -> None:
        """Forget the database connections (of a parent process, after a fork: never used here)."""
        sessions = vars(self).pop("sessions", None)
        if sessions is not None:
            sessions.kw["bind"].dispose(close=False)


_state: WorkerState | None = None


def worker_state(settings: Settings) -> WorkerState:
    """This process's state, made on first use."""
    global _state
    if _state is None or _state.settings is not settings:
        _state = WorkerState(settings)
    return _state


def _on_worker_process_init(**_: Any) -> None:
    # A prefork child: inherited engines hold the parent's sockets; start afresh in this process.
    global _state
    if _state is not None:
        settings = _state.settings
        _state.close()
        _state = WorkerState(settings)


def _retryable() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import OperationalError

    from models.db import DatabaseError

    return (OperationalError, DatabaseError)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Celery beat entries for the settings' ``job_schedule`` ("HH:MM" local time per job).

    Raises:
        ValueError: a job name that does not exist, or a time that is not HH:MM.
    """
    from celery.schedules import crontab

    from windowqa.jobs import JOBS

    schedule: dict[str, dict[str, Any]] = {}
    for name, hhmm in settings.job_schedule.items():
        if name not in JOBS:
            raise ValueError(f"job_schedule: no job {name!r}; jobs: {', '.join(JOBS)}")
        at = datetime.strptime(hhmm, "%H:%M")
        schedule[f"job {name}"] = {"task": RUN_JOB_TASK, "schedule": crontab(hour=at.hour, minute=at.minute), "args": (name,)}
    return schedule


def make_celery(settings: Settings) -> "Celery":
    """The Celery app for ``settings``: broker, concurrency, delivery guarantees, tasks, beat schedule."""
    from celery import Celery
    from celery.signals import worker_process_init

    app = Celery("windowqa", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,  # results go to the database
        task_acks_late=True,  # acknowledged when done: a task of a dead worker is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a long task never holds others back in one process's buffer
        worker_concurrency=settings.worker_concurrency,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.task_visibility_timeout_s},
        worker_hijack_root_logger=False,
        timezone=settings.timezone,
        enable_utc=False,
        beat_schedule=beat_schedule(settings),
    )
    worker_process_init.connect(_on_worker_process_init, weak=False, dispatch_uid="windowqa.worker_process_init")
    # shared=False: a shared task would also be registered, with this app's settings, in every
    # Celery app built later in the process, so the last-built app's retries would depend on order.

    @app.task(name=RUN_JOB_TASK, shared=False, autoretry_for=_retryable(), max_retries=settings.task_max_retries,
              retry_backoff=RETRY_BACKOFF_S, retry_jitter=False)
    def run_job_task(name: str, at: str | None = None) -> None:
        """Run a scheduled job in this worker (``at``: ISO time the job runs for, default now)."""
        from windowqa.jobs import JobRun, run_job

        state = worker_state(settings)
        run = JobRun(state.sessions, settings, state.rulebook,
                     *([datetime.fromisoformat(at)] if at else []))
        result = run_job(name, run)
        for line in result.lines():
            log.info("job %s: %s", name, line)

    _ingest_task(app, settings)
    return app


def max_attempts(settings: Settings) -> int:
    """Deliveries of one queued recording before it is dead-lettered: every retry of an outside
    failure, and as many deliveries again for tries whose worker was killed."""
    return 2 * (settings.task_max_retries + 1)


def _ingest_task(app: "Celery", settings: Settings) -> None:
    @app.task(name=INGEST_TASK, shared=False, bind=True, max_retries=settings.task_max_retries)
    def ingest_recording_task(self: Any, job_id: int, task_args: dict[str, Any]) -> None:
        """Ingest one queued recording (``windowqa ingest --queue``) and rebuild its window-day."""
        import socket

        from models.db import JobState
        from windowqa.queue_ingest import finish, run_job

        state = worker_state(settings)
        worker = f"{self.request.hostname or socket.gethostname()}:{os.getpid()}"
        outcome = run_job(job_id, task_args, state.engines, worker=worker, max_attempts=max_attempts(settings))
        log.info("ingest job %d: %s %s", job_id, outcome.state.value if outcome.state else "-", outcome.reason)
        if outcome.alerts:
            _announce(settings, state, outcome.alerts)
        if not outcome.retry:
            return
        if self.request.retries >= settings.task_max_retries:
            finish(state.sessions, job_id, JobState.DEAD, f"failed {self.request.retries + 1} times; last: {outcome.reason}")
            return
        raise self.retry(countdown=RETRY_BACKOFF_S * 2 ** self.request.retries)


def _announce(settings: Settings, state: WorkerState, alert_ids: list[int]) -> None:
    """Log the live alerts a task raised; post them to the webhook (if any) in the background."""
    log.info("live alerts raised: %s", alert_ids)
    if settings.alert_webhook_url:
        from windowqa.alert_webhook import WebhookOptions, deliver_in_background

        deliver_in_background(state.sessions, alert_ids, WebhookOptions(
            settings.alert_webhook_url, settings.alert_webhook_timeout_s, settings.alert_webhook_retries))


__all__ = ["INGEST_TASK", "RUN_JOB_TASK", "max_attempts", "WorkerState", "beat_schedule", "make_celery", "worker_state"]
