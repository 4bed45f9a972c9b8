"""The house's import directions, checked by walking every module's imports (AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"models", "audio_capture", "asr", "nlp", "attendance", "scoring", "dashboard", "windowqa"}
ALLOWED = {
    "models": set(),
    "audio_capture": {"models"},
    "asr": {"models"},
    "nlp": {"models"},
    "attendance": {"models"},
    "scoring": {"models"},
    "dashboard": {"models", "scoring"},
    "windowqa": PROJECT,
}
# The dashboard never loads a model: no ML or ASR library anywhere under it.
DASHBOARD_FORBIDDEN_LIBS = {"faster_whisper", "ctranslate2", "dlib", "insightface", "onnxruntime", "sklearn", "jieba", "torch"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    assert (ROOT / package / "__init__.py").exists(), f"{package}/ is not a package"
    wrong = []
    for path in _modules(package):
        for name in _imports(path) & PROJECT:
            if name != package and name not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "import direction broken:\n" + "\n".join(wrong)


def test_dashboard_never_loads_a_model():
    wrong = [
        f"{p.relative_to(ROOT)} imports {name}"
        for p in _modules("dashboard")
        for name in _imports(p) & DASHBOARD_FORBIDDEN_LIBS
    ]
    assert not wrong, "\n".join(wrong)


# Inside scoring/, three rooms: the pure domain thinks, scoring.store writes, scoring.access reads and
# decides for a user. The pure domain imports neither room; the writers never import the access
# layer (access may call a writer, wrapped in its role check and audit).
PURE_DOMAIN = ("segment.py", "score.py", "duty.py", "effective.py", "conduct.py")
SCORING_ROOMS = {
    "pure domain": ([ROOT / "scoring" / name for name in PURE_DOMAIN], ("scoring.store", "scoring.access", "scoring.reports", "scoring.accounts")),
    "scoring.store": (_modules("scoring/store"), ("scoring.access", "scoring.reports")),
    "scoring.access": (_modules("scoring/access"), ("scoring.reports",)),
}


def _dotted_imports(path: Path) -> set[str]:
    """Full module names a file imports (``from scoring import access`` counts as ``scoring.access``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import (the direction checks read absolute names)"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _wrong_room_imports(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p} imports {name}"
        for p in paths
        for name in sorted(_dotted_imports(p))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


@pytest.mark.parametrize("room", sorted(SCORING_ROOMS))
def test_scoring_rooms_import_in_one_direction(room):
    paths, forbidden = SCORING_ROOMS[room]
    assert paths and all(p.exists() for p in paths), f"{room}: files moved? {paths}"
    wrong = _wrong_room_imports(paths, forbidden)
    assert not wrong, f"{room} imports a room it may not:\n" + "\n".join(wrong)


def test_nothing_in_scoring_imports_the_dashboard_or_the_cli():
    wrong = [f"{p.relative_to(ROOT)} imports {name}" for p in _modules("scoring") for name in _imports(p) & {"dashboard", "windowqa"}]
    assert not wrong, "\n".join(wrong)


def test_the_room_walk_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from scoring import access\nimport scoring.store.queue\nfrom scoring.score import ScoreLine\n")
    assert _wrong_room_imports([bad], ("scoring.access",)) == [f"{bad} imports scoring.access"]
    assert len(_wrong_room_imports([bad], ("scoring.store", "scoring.access"))) == 2
    assert _wrong_room_imports([bad], ("scoring.reports",)) == []


def test_the_walk_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import asr.transcribe\nfrom nlp import build_matcher\nfrom . import sibling\n")
    assert _imports(bad) == {"asr", "nlp"}


# Room sizes (issue 11): a module past 600 lines or a function past 80 is a room that needs splitting.
# The table definitions (models/db.py) and the migrations are long by nature.
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 600, 80
SIZE_EXEMPT = {Path("models/db.py")}


def _oversized(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    found = []
    if source.count("\n") > MAX_MODULE_LINES:
        found.append(f"{path}: {source.count(chr(10))} lines")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{node.lineno} {node.name}() {length} lines")
    return found


def test_no_room_outgrows_its_size():
    too_big = []
    for package in sorted(PROJECT):
        for path in _modules(package):
            relative = path.relative_to(ROOT)
            if relative in SIZE_EXEMPT or "migrations" in relative.parts:
                continue
            too_big += _oversized(path)
    assert not too_big, "split these rooms:\n" + "\n".join(too_big)


def test_the_size_walk_sees_a_long_function(tmp_path):
    long_function = tmp_path / "long.py"
    long_function.write_text("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES)
    assert _oversized(long_function) == [f"{long_function}:1 f() {MAX_FUNCTION_LINES + 1} lines"]
