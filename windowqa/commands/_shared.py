"""Pieces several command modules use: the dashboard process, the phrase-evaluation printout, the stored attendance month.

Command modules import this module and :mod:`windowqa.context`, never each other.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

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
