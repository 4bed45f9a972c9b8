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
        worker_hijack_root_logger=False,
        timezone=settings.timezone,
        enable_utc=False,
        beat_schedule=beat_schedule(settings),
    )
    worker_process_init.connect(_on_worker_process_init, weak=False, dispatch_uid="windowqa.worker_process_init")

    @app.task(name=RUN_JOB_TASK, autoretry_for=_retryable(), max_retries=settings.task_max_retries,
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

    return app


__all__ = ["RUN_JOB_TASK", "WorkerState", "beat_schedule", "make_celery", "worker_state"]
