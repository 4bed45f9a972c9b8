"""``windowqa jobs run | list``, ``windowqa worker`` and ``windowqa beat``.

``jobs run NAME`` is the cron form of a scheduled job (halls without a broker); ``worker`` and
``beat`` run the same jobs through Celery with the Redis broker of the settings (``broker_url``).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from windowqa.app import app
from windowqa.context import DB_OPT, RULEBOOK_OPT, CliContext, cli_context, fail

jobs_app = typer.Typer(help="Scheduled jobs: overdue follow-ups, the day's attendance, audio retention, consistency.",
                       no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


class Pool(str, Enum):
    prefork = "prefork"  # one process per concurrency slot (the default)
    solo = "solo"  # tasks in the worker's own process, one at a time


@jobs_app.command("list")
def jobs_list() -> None:
    """The jobs that `jobs run` and Celery beat know, with what each does."""
    from windowqa.jobs import JOBS

    for job in JOBS.values():
        typer.echo(f"{job.name:18s} {job.summary}")


@jobs_app.command("run")
def jobs_run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A job of `windowqa jobs list`."),
    at: Optional[str] = typer.Option(None, "--at", help="Run as at this local time, YYYY-MM-DD[THH:MM] (default: now)."),
    rulebook: Optional[Path] = RULEBOOK_OPT,
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Run one scheduled job now (from cron); prints its result, exits 1 when it found problems."""
    from models.workdays import CalendarFileError
    from windowqa.jobs import JOBS, JobRun, run_job

    if name not in JOBS:
        fail(f"no job {name!r}; jobs: {', '.join(JOBS)}")
    try:
        when = datetime.fromisoformat(at) if at else datetime.now().replace(microsecond=0)
    except ValueError as exc:
        fail(f"--at: {exc}")
    cli = cli_context(ctx, db=db_url, rulebook=rulebook)
    try:
        result = run_job(name, JobRun(cli.sessions, cli.settings, cli.rulebook, when))
    except CalendarFileError as exc:
        fail(str(exc), 1)
    for line in result.lines():
        typer.echo(line)
    if not result.ok:
        raise typer.Exit(1)


def _celery(cli: CliContext):
    from windowqa.worker import make_celery

    try:
        return make_celery(cli.settings)
    except ValueError as exc:
        fail(str(exc))


@app.command("worker")
def worker(
    ctx: typer.Context,
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Worker processes (default: settings worker_concurrency)."),
    pool: Pool = typer.Option(Pool.prefork, "--pool", help="prefork (processes) or solo (one task at a time, in this process)."),
    loglevel: str = typer.Option("INFO", "--loglevel"),
    hostname: Optional[str] = typer.Option(None, "--hostname", help="Worker node name (default: celery@HOST)."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Start a Celery worker on the settings' broker; runs until stopped (SIGTERM finishes the task at hand)."""
    cli = cli_context(ctx, db=db_url)
    celery_app = _celery(cli)
    cli.sessions  # noqa: B018  (migrate the schema once here, not racing in every worker process)
    argv = ["worker", f"--pool={pool.value}", f"--loglevel={loglevel}",
            f"--concurrency={concurrency or cli.settings.worker_concurrency}"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery_app.worker_main(argv)


@app.command("beat")
def beat(
    ctx: typer.Context,
    loglevel: str = typer.Option("INFO", "--loglevel"),
) -> None:
    """Start Celery beat: sends each job of the settings' job_schedule to the workers at its time.

    Run exactly one beat per site; its schedule state lives in the data directory.
    """
    cli = cli_context(ctx)
    celery_app = _celery(cli)
    state = cli.settings.data_dir / "celerybeat-schedule"
    state.parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={state}"])


@jobs_app.command("status")
def jobs_status(
    ctx: typer.Context,
    day: Optional[str] = typer.Option(None, "--day", help="Only this day, YYYY-MM-DD."),
    window: Optional[str] = typer.Option(None, "--window", help="Only this window code."),
    db_url: Optional[str] = DB_OPT,
) -> None:
    """Queued ingest (`ingest --queue`): queued / running / done / failed / dead per window and day,
    with the reason of each failure (dead = the dead-letter list)."""
    from datetime import date

    from windowqa.queue_ingest import job_status

    try:
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        fail(f"--day: {exc}")
    cli = cli_context(ctx, db=db_url)
    with cli.sessions() as session:
        rows = job_status(session, day=when, window=window)
    if not rows:
        typer.echo("no queued recordings")
    for row in rows:
        typer.echo(row.line())
        for state, path, reason in row.failures:
            typer.echo(f"    {state:6s} {path}: {reason}")
