"""The command line's shared context: one database option, lazy settings/store/rulebook, one error form."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from windowqa.cli import app

ROOT = Path(__file__).resolve().parents[1]
COMMANDS_DIR = ROOT / "windowqa" / "commands"
runner = CliRunner()

def _leaf_commands(group, prefix=("windowqa",)):
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        if getattr(sub, "commands", None):
            yield from _leaf_commands(sub, prefix + (name,))
        else:
            yield " ".join(prefix + (name,)), sub


COMMANDS = dict(_leaf_commands(get_command(app)))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WINDOWQA_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_one_database_option_name_in_every_command():
    with_db = {}
    for path, command in COMMANDS.items():
        for param in command.params:
            if any(opt.startswith(("--db", "--database")) for opt in getattr(param, "opts", [])):
                with_db[path] = param.opts
    assert set(map(tuple, with_db.values())) == {("--db",)}
    # every command that opens the store takes it
    for path in ("windowqa ingest", "windowqa report", "windowqa accounts add", "windowqa attendance checkin",
                 "windowqa nlp retrain", "windowqa dashboard", "windowqa site load", "windowqa flags list"):
        assert path in with_db, path


def test_a_command_that_needs_no_store_opens_none(data_dir):
    result = runner.invoke(app, ["rules", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert not (data_dir / "windowqa.db").exists()


def test_db_option_is_the_store_used(data_dir, tmp_path):
    db = tmp_path / "elsewhere" / "hall.db"
    result = runner.invoke(app, ["accounts", "list", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert db.exists() and not (data_dir / "windowqa.db").exists()


@pytest.mark.parametrize("args, says", [
    (["rules", "show", "--rulebook", "missing.toml"], "missing.toml"),
    (["accounts", "list", "--db", "nonsense"], "not a database URL"),
    (["attendance", "leave-import", "no-such.csv", "--db", "sqlite:///x.db"], "no-such.csv: cannot read"),
])
def test_errors_name_what_failed_and_exit_2(data_dir, args, says):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith("windowqa: ") and says in result.output
    assert "Traceback" not in result.output


def _module_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_command_modules_do_not_import_each_other():
    modules = {p.stem for p in COMMANDS_DIR.glob("*.py")} - {"__init__", "_shared"}
    wrong = [f"{p.name} imports {name}" for p in COMMANDS_DIR.glob("*.py") for name in _module_imports(p)
             if name.startswith("windowqa.commands.") and name.rsplit(".", 1)[-1] in modules]
    assert not wrong


def _settings_built_in(path: Path) -> list[str]:
    """Functions of ``path`` that call ``Settings(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Settings":
                    found.append(fn.name)
    return found


def test_settings_are_built_only_by_the_context():
    files = [*COMMANDS_DIR.glob("*.py"), ROOT / "windowqa" / "app.py", ROOT / "windowqa" / "cli.py"]
    wrong = [f"{p.name}: {fn}" for p in files for fn in _settings_built_in(p)]
    assert not wrong
    assert _settings_built_in(ROOT / "windowqa" / "context.py") == ["settings"]


def test_the_settings_walk_sees_a_call(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def run():\n    s = Settings()\n    return Settings.model_fields\n")
    assert _settings_built_in(bad) == ["run"]
