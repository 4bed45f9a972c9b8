"""The README tells the truth about the command line: every command is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command

from windowqa.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix=("windowqa",)):
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        if getattr(sub, "commands", None):
            yield from _commands(sub, prefix + (name,))
        else:
            yield prefix + (name,), sub


COMMANDS = list(_commands(get_command(app)))


def test_there_are_commands():
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_command_is_in_readme(path):
    words = path.split()
    # "windowqa attendance enroll" may be documented as "windowqa attendance enroll" or in a
    # slash list after its group ("windowqa attendance enroll` / `checkin`")
    group = " ".join(words[:-1])
    assert path in README or (f"`{words[-1]}`" in README and group in README), f"{path} is not documented in README.md"


@pytest.mark.parametrize("path, command", [(" ".join(p), c) for p, c in COMMANDS])
def test_command_has_help(path, command):
    assert (command.help or "").strip(), f"{path} has no help text"
