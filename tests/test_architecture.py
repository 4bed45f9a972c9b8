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


def test_the_walk_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import asr.transcribe\nfrom nlp import build_matcher\nfrom . import sibling\n")
    assert _imports(bad) == {"asr", "nlp"}
