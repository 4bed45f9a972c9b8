"""Live capture: the callback path with the blocks a stream delivers, and a real PortAudio
stream from an ALSA file-backed input device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_capture import ChannelMap, decode_audio
from audio_capture.live import CaptureOptions, LiveCapture, SegmentWriter
from models.domain import Role

SR = 16000
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def window_audio(speech_dir) -> np.ndarray:
    """Staff speaks on mic 0, then the citizen on mic 1 (float32, frames × channels like PortAudio)."""
    staff = decode_audio(speech_dir / "paddle_zh.flac").samples[0]
    citizen = decode_audio(speech_dir / "firered_aishell2_IT0011W0001.flac").samples[0]
    n = SR + staff.size + SR + citizen.size + SR
    audio = np.zeros((n, 2), np.float32)
    audio[SR : SR + staff.size, 0] = staff * 4
    audio[2 * SR + staff.size : 2 * SR + staff.size + citizen.size, 1] = citizen * 2
    return audio


def _feed(capture: LiveCapture, audio: np.ndarray, block: int) -> threading.Thread:
    def run():
        for i in range(0, audio.shape[0], block):
            indata = audio[i : i + block]
            capture.callback(indata, indata.shape[0], None, None)
        capture.stop()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_callback_copies_and_counts_overruns():
    capture = LiveCapture(CaptureOptions(queue_blocks=2))
    block = np.ones((1600, 2), np.float32)
    capture.callback(block, 1600, None, None)
    block[:] = 0  # PortAudio reuses its buffer after the callback returns
    assert capture.queue.get_nowait().sum() == 3200
    for _ in range(3):
        capture.callback(block, 1600, None, None)
    assert capture.overruns == 1


@pytest.mark.slow
def test_stream_blocks_are_archived_and_transcribed(window_audio, transcriber, tmp_path):
    from windowqa.speech import transcribe_blocks

    options = CaptureOptions(window="W05", segment_s=4.0, archive_dir=tmp_path)
    capture = LiveCapture(options)
    started_at = datetime(2026, 3, 2, 9, 30, 0)
    writer = SegmentWriter(options, started_at)
    feeder = _feed(capture, window_audio, block=1600)  # 100 ms blocks, as the stream delivers
    utterances = list(
        transcribe_blocks(
            capture.blocks(writer, timeout_s=0.05),
            transcriber,
            channel_map=ChannelMap(window="W05"),
            n_channels=2,
            recording_started_at=started_at,
        )
    )
    feeder.join()
    assert [(u.channel, u.role) for u in utterances] == [(0, Role.STAFF), (1, Role.CITIZEN)]
    assert "跑步" in utterances[0].text and utterances[0].window == "W05"
    assert utterances[0].started_at == started_at + timedelta(seconds=utterances[0].start_s)
    # rolling archive: 4 s files, complete (no .part left), together the whole stream
    files = sorted(tmp_path.glob("W05_*.flac"))
    assert len(files) == int(np.ceil(window_audio.shape[0] / (4 * SR))) and not list(tmp_path.glob("*.part"))
    archived = np.concatenate([sf.read(f, dtype="float32")[0] for f in files])
    assert archived.shape == window_audio.shape
    assert np.allclose(archived, np.clip(window_audio, -1, 1), atol=1 / 16000)
    assert files[0].name == "W05_20260302T093000.flac" and files[1].name == "W05_20260302T093004.flac"


@pytest.mark.slow
def test_real_stream_from_an_alsa_file_device(window_audio, whisper_model_dir, tmp_path):
    """`windowqa capture` on a PortAudio stream; ALSA's file plugin plays a raw file as the input."""
    probe = subprocess.run([sys.executable, "-c", "import sounddevice"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"PortAudio not installed here: {probe.stderr.decode()[-200:]}")
    raw = tmp_path / "input.raw"
    window_audio.astype("<f4").tofile(raw)
    (tmp_path / ".asoundrc").write_text(
        textwrap.dedent(
            f"""\
            pcm.windowfile {{
                type file
                slave.pcm "null"
                file "/dev/null"
                infile "{raw}"
                format "raw"
            }}
            """
        )
    )
    env = dict(os.environ, HOME=str(tmp_path), WINDOWQA_WHISPER_MODEL_DIR=str(whisper_model_dir), WINDOWQA_ARCHIVE_DIR=str(tmp_path / "archive"))
    seconds = window_audio.shape[0] / SR + 1.5
    run = subprocess.run(
        [str(Path(sys.executable).with_name("windowqa")), "capture", "--device", "windowfile", "--window", "W09", "--seconds", f"{seconds:.1f}", "--no-match"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    if "cannot open" in run.stderr or "Error querying" in run.stderr:
        pytest.skip(f"no ALSA input device could be opened here: {run.stderr[-300:]}")
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert any("跑步" in u["text"] and u["role"] == "staff" for u in lines), run.stdout
    assert list((tmp_path / "archive" / "W09").glob("W09_*.flac"))


def test_opus_archive_files_roll_and_decode(window_audio, tmp_path):
    options = CaptureOptions(window="W02", segment_s=5.0, archive_dir=tmp_path, file_format="OGG")
    writer = SegmentWriter(options, datetime(2026, 3, 2, 14, 0, 0))
    for i in range(0, window_audio.shape[0], 1600):
        writer.write(window_audio[i : i + 1600].T)
    writer.close()
    files = sorted(tmp_path.glob("W02_*.ogg"))
    assert [f.name for f in files[:2]] == ["W02_20260302T140000.ogg", "W02_20260302T140005.ogg"]
    decoded = [decode_audio(f).samples for f in files]
    assert all(d.shape[0] == 2 for d in decoded)
    assert sum(d.shape[1] for d in decoded) == pytest.approx(window_audio.shape[0], abs=2000)
    # Opus at its default rate is a small fraction of the 16-bit PCM size
    assert sum(f.stat().st_size for f in files) < window_audio.shape[0] * 2 * 2 / 5
