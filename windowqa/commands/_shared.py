"""Pieces several command modules use: the dashboard process, the phrase-evaluation printout, the stored
attendance month, the queued ingest.

Command modules import this module and :mod:`windowqa.context`, never each other.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from windowqa.context import CliContext

ENTRYPOINT = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"


def dashboard_env(database_url: str, archive_dir: Path) -> dict[str, str]:
    """The environment the dashboard process runs with: this store and its audio archive."""
    env = dict(os.environ)
    env["WINDOWQA_DATABASE_URL"] = database_url
    env["WINDOWQA_ARCHIVE_DIR"] = str(archive_dir)
    return env


def streamlit_command(port: int, address: str, headless: bool = True) -> list[str]:
    """The command line that serves the dashboard app with Streamlit."""
    return [
        sys.executable, "-m", "streamlit", "run", str(ENTRYPOINT),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        # hall users get no Deploy button and no developer menu
        "--client.toolbarMode", "minimal",
    ]


def print_phrase_evaluation(result: dict, as_json: bool) -> None:
    """Shared output of ``eval phrases`` and ``eval phrases-audio``."""
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for family in ("forbidden", "courtesy"):
        f = result[family]
        typer.echo(f"{family:10s} precision {f['precision']:.3f}  recall {f['recall']:.3f}  (tp {f['tp']}, fp {f['fp']}, fn {f['fn']})")
    typer.echo(f"lines: {result['lines']}")
    for e in result["errors"]:
        label = "MISS       " if e["type"] == "miss" else "FALSE ALARM"
        typer.echo(f"  {label} {e['rule_id']:32s} {e['item']}")


def work_calendar(path: Path | str | None):
    """The work calendar of the settings (national days, overridden by a site file), or a clean exit."""
    from models.workdays import CalendarFileError, WorkCalendar

    from windowqa.context import fail

    try:
        return WorkCalendar.from_file(path)
    except CalendarFileError as exc:
        fail(str(exc))


def store_attendance_months(cli, rulebook, months: list[str], through) -> None:
    """Classify and store each month up to ``through``, with the settings' calendar (as ``attendance report``)."""
    from attendance.classify import classify_months, describe

    settings = cli.settings
    with cli.sessions() as session, session.begin():
        for result in classify_months(session, months, rulebook, work_calendar(settings.calendar_path), through=through,
                                      calendar_path=settings.calendar_path):
            typer.echo(describe(result))


def queue_ingest(cli: "CliContext", paths: list[Path], window: str, *, archive: bool, channels: Optional[str],
                 retry_failed: bool, roles: bool, as_json: bool, voice: Optional[bool] = None) -> None:
    """``windowqa ingest --queue``: register each recording, send one task per recording to the workers."""
    from windowqa.context import fail
    from windowqa.ingest import IngestError
    from windowqa.queue_ingest import QueueOptions, enqueue
    from windowqa.worker import INGEST_TASK, make_celery

    try:
        celery_app = make_celery(cli.settings)
    except ValueError as exc:
        fail(str(exc))
    options = QueueOptions(window=window, archive=archive, channels=channels, retry_failed=retry_failed, roles=roles, voice=voice)

    def send(job_id: int, task_args: dict) -> None:
        celery_app.send_task(INGEST_TASK, args=[job_id, task_args])

    try:
        results = enqueue(paths, options, session_factory=cli.sessions, rulebook=cli.rulebook,
                          archive_dir=cli.settings.resolved_archive_dir, send=send)
    except IngestError as exc:
        fail(str(exc))
    for f in results:
        if as_json:
            sys.stdout.write(json.dumps(f.__dict__, ensure_ascii=False) + "\n")
        else:
            typer.echo(f"{f.status:8s} {f.path}: {f.reason}")
    counts = {s: sum(1 for f in results if f.status == s) for s in ("queued", "skipped", "failed")}
    if not as_json:
        typer.echo(f"{counts['queued']} queued, {counts['skipped']} skipped, {counts['failed']} failed")
    if counts["failed"]:
        raise typer.Exit(1)
