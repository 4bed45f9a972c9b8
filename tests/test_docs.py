"""The README tells the truth about the command line: every command is in its table, and
every command in the table exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from windowqa.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
COMMAND_WORD = re.compile(r"^[a-z][a-z0-9-]*$")


def _commands(group, prefix=("windowqa",)):
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        if getattr(sub, "commands", None):
            yield from _commands(sub, prefix + (name,))
        else:
            yield prefix + (name,), sub


def documented_commands(readme: str) -> set[str]:
    """The command paths in the first cell of the README's command table.

    A cell may list several commands of one group: "`windowqa attendance enroll` / `checkin`";
    a bare name after the first takes the group of the command before it. A span starting with
    an option (``--file ...``) continues the command before it and names no command.
    """
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    paths: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = re.split(r"(?<!\\)\|", line)[1]
        last: list[str] | None = None
        for span in re.findall(r"`([^`]*)`", first_cell):
            tokens = span.split()
            if not tokens or tokens[0].startswith("-"):
                continue
            if tokens[0] == "windowqa":
                words = ["windowqa"]
                for token in tokens[1:]:
                    if not COMMAND_WORD.match(token):
                        break
                    words.append(token)
            else:
                assert last is not None and len(tokens) == 1, f"cannot read {span!r} in: {line}"
                words = last[:-1] + tokens
            paths.add(" ".join(words))
            last = words
    return paths


COMMANDS = list(_commands(get_command(app)))
DOCUMENTED = documented_commands(README)


def test_there_are_commands():
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_command_is_in_readme(path):
    assert path in DOCUMENTED, f"{path} is not in the command table of README.md"


def test_readme_lists_no_command_that_does_not_exist():
    existing = {" ".join(p) for p, _ in COMMANDS}
    assert DOCUMENTED - existing == set()


def test_the_table_reader_expands_slash_lists_and_stops_at_arguments():
    table = (
        "## Command line\n\n| command | what |\n| --- | --- |\n"
        "| `windowqa match TEXT...` / `--file LINES.txt [--role staff\\|citizen]` | hits |\n"
        "| `windowqa report staff\\|window --month M` | roll-ups |\n"
        "| `windowqa accounts add` / `list` / `windowqa eval faces DIR` | x \\| y |\n"
        "\n## Next\n| `windowqa not-here` | elsewhere |\n"
    )
    assert documented_commands(table) == {
        "windowqa match", "windowqa report", "windowqa accounts add", "windowqa accounts list", "windowqa eval faces",
    }


@pytest.mark.parametrize("path, command", [(" ".join(p), c) for p, c in COMMANDS])
def test_command_has_help(path, command):
    assert (command.help or "").strip(), f"{path} has no help text"
