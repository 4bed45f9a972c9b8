"""Pieces two command modules use: the dashboard process and the phrase-evaluation printout.

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
