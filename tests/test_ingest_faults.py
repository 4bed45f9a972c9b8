"""Ingest under faults: failed recordings retried by kind, multichannel files by an explicit
channel map, a full disk, a locked database, partial files and files of other types.

Transcription is the recorded-transcript stand-in (:class:`RecordedTranscriber`) wherever the
ASR is not what is tested; the multichannel tests use real audio (tests/data/speech clips in
6-channel FLAC) through the real decoder and VAD, with a stand-in that hears nothing in place
of Whisper (what is tested is which channels reach it and what is reported about the rest).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from _store_support import DATA, RecordedMatcher, RecordedTranscriber, day_files, factory, rulebook, sqlite_url  # noqa: F401
from models.db import FailureKind, Recording, RecordingStatus, make_engine, make_session_factory
from models.settings import Settings
from scoring.store.site import load_site
from windowqa.ingest import IngestOptions, ingest

DAY = datetime(2026, 3, 2, 9, 0, 0)
SPEECH = DATA / "speech" / "paddle_zh.flac"


class CountingTranscriber(RecordedTranscriber):
    """The recorded transcripts, counting which files were transcribed."""

    def __init__(self):
        self.calls: list[str] = []

    def __call__(self, path, *, started_at=None, channel_map=None):
        self.calls.append(Path(path).name)
        return super().__call__(path, started_at=started_at, channel_map=channel_map)


class HearsNothing:
    """Stands in for Whisper on real audio: records the channel map it was given, hears nothing."""

    def __init__(self):
        self.channel_maps: list = []

    def __call__(self, path, *, started_at=None, channel_map=None):
        self.channel_maps.append(channel_map)
        return []


def _ingest(factory, rulebook, files, *, transcribe=None, **kw):
    kw.setdefault("archive_dir", None)
    return ingest(
        files,
        IngestOptions(window="A03", progress=False, **kw),
        session_factory=factory,
        transcribe=transcribe or RecordedTranscriber(),
        matcher=RecordedMatcher(rulebook),
        rulebook=rulebook,
    )


@pytest.fixture
def site(factory, rulebook):
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
    return factory


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: writes beyond it fail with ENOSPC, as on a full archive disk."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        reason = f"cannot mount a 1 MiB tmpfs to simulate a full disk: {done.stderr.strip()}"
        refused = os.geteuid() != 0 or any(w in done.stderr.lower() for w in ("permission denied", "not permitted", "superuser"))
        if os.environ.get("CI", "").lower() == "true" and not refused:
            pytest.fail(reason)  # CI may lack the right to mount, but a permitted mount must work there
        pytest.skip(reason + " (needs root with the right to mount)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _big_transcript(folder: Path, megabytes: float) -> Path:
    """A recorded transcript padded past ``megabytes`` (a comment line), start time in its name."""
    path = day_files(folder, [DAY])[0]
    padding = json.dumps({"#": "x" * int(megabytes * 1024 * 1024)})
    path.write_text(padding + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return path


# ------------------------------------------------------------------ 1. retry by failure kind


def test_outside_failure_is_retried_on_the_next_ingest(site, rulebook, tmp_path):
    good = day_files(tmp_path / "in", [DAY])[0]
    unnamed = good.with_name("counter-a03.jsonl")
    good.rename(unnamed)
    first = _ingest(site, rulebook, [unnamed])
    assert first.files[0].status == "failed" and "no start time" in first.files[0].reason
    assert first.files[0].failure_kind == "outside"
    with site() as s:
        assert s.scalar(select(Recording)).failure_kind is FailureKind.OUTSIDE
    # the cause fixed (--start given): retried without asking
    second = _ingest(site, rulebook, [unnamed], start=DAY)
    assert second.files[0].status == "done", second.files[0].reason
    assert second.files[0].utterances == 34
    with site() as s:
        recording = s.scalar(select(Recording))
        assert recording.status is RecordingStatus.DONE and recording.failure_kind is None and recording.failure_reason is None


def test_content_failure_is_retried_only_when_asked(site, rulebook, tmp_path):
    broken = tmp_path / "A03_20260302-090000.jsonl"
    broken.write_text('{"start_s": 0, "end_s": 1, "role": "staff", "text": "您好"}\n{"start_s": 1, "end_', encoding="utf-8")
    transcribe = CountingTranscriber()
    first = _ingest(site, rulebook, [broken], transcribe=transcribe)
    assert first.files[0].status == "failed" and first.files[0].failure_kind == "content"
    again = _ingest(site, rulebook, [broken], transcribe=transcribe)
    assert again.files[0].status == "failed" and again.files[0].failure_kind == "content"
    assert "--retry-failed" in again.files[0].reason and "JSONDecodeError" in again.files[0].reason
    assert transcribe.calls == [broken.name]  # not transcribed again
    retried = _ingest(site, rulebook, [broken], transcribe=transcribe, retry_failed=True)
    assert transcribe.calls == [broken.name] * 2
    assert retried.files[0].status == "failed" and "--retry-failed" not in retried.files[0].reason


def test_cli_reports_the_failure_kind(tmp_path, rulebook):
    from typer.testing import CliRunner

    from windowqa.cli import app

    db = f"sqlite:///{tmp_path / 'w.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["site", "load", str(DATA / "site" / "hall.toml"), "--db", db]).exit_code == 0
    missing_time = tmp_path / "counter.flac"
    sf.write(str(missing_time), np.zeros(16000, np.float32), 16000)
    result = runner.invoke(app, ["ingest", str(missing_time), "--window", "A03", "--no-archive", "--db", db, "--json"])
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["status"] == "failed" and row["failure_kind"] == "outside", result.stdout
    result = runner.invoke(app, ["ingest", str(missing_time), "--window", "A03", "--no-archive", "--db", db])
    assert "failed (outside)" in result.stdout, result.stdout


# ------------------------------------------------------------------ 2. channels


def _clip(path: Path, rate: int) -> np.ndarray:
    clip, clip_rate = sf.read(str(path), dtype="float32")
    clip = clip if clip.ndim == 1 else clip[:, 0]
    if clip_rate != rate:  # linear resampling is enough for a VAD
        clip = np.interp(np.arange(0, len(clip), clip_rate / rate), np.arange(len(clip)), clip).astype(np.float32)
    return clip


def _six_channels(path: Path, speech_on: dict[int, float], clips: dict[int, Path] | None = None) -> None:
    """A 6-channel 16 kHz file with a speech clip on the given channels (channel → start second)."""
    rate = 16000
    voices = {c: _clip((clips or {}).get(c, SPEECH), rate) for c in speech_on}
    length = int(rate * (max(speech_on.values()) + 1.0)) + max(len(v) for v in voices.values()) + rate
    audio = np.zeros((length, 6), np.float32)
    rng = np.random.default_rng(0)
    audio += rng.standard_normal(audio.shape).astype(np.float32) * 1e-4  # microphone hiss
    for channel, start_s in speech_on.items():
        at = int(start_s * rate)
        audio[at : at + len(voices[channel]), channel] += voices[channel]
    sf.write(str(path), audio, rate, subtype="PCM_16")


def test_decoding_keeps_every_channel(tmp_path):
    from audio_capture.decode import probe_audio, stream_audio

    path = tmp_path / "six.flac"
    _six_channels(path, {3: 1.0})
    assert probe_audio(path).channels == 6
    audio = np.concatenate(list(stream_audio(path)), axis=1)
    assert audio.shape[0] == 6
    rms = np.sqrt(np.mean(np.square(audio), axis=1))
    assert int(np.argmax(rms)) == 3 and rms[3] > 20 * max(rms[c] for c in range(6) if c != 3)


def test_speech_on_an_unmapped_channel_is_not_done(site, rulebook, tmp_path):
    path = tmp_path / "A03_20260302-090000.wav"
    _six_channels(path, {3: 1.0})
    heard = HearsNothing()
    report = _ingest(site, rulebook, [path], transcribe=heard)
    result = report.files[0]
    assert result.status == "failed" and result.failure_kind == "outside", result
    assert "channel 3" in result.reason and " s " in result.reason
    # mapped explicitly: channel 3 is the staff side; it reaches the transcription, retried by itself
    mapped = _ingest(site, rulebook, [path], transcribe=heard, channels="ignore,ignore,ignore,staff,ignore,ignore")
    assert mapped.files[0].status == "done", mapped.files[0]
    assert heard.channel_maps[-1] == {"0": "ignore", "1": "ignore", "2": "ignore", "3": "staff", "4": "ignore", "5": "ignore"}
    assert mapped.files[0].warnings == []


def test_speech_ignored_by_the_map_is_reported(site, rulebook, tmp_path):
    path = tmp_path / "A03_20260302-090000.flac"
    _six_channels(path, {0: 1.0, 1: 3.0, 4: 2.0})
    report = _ingest(site, rulebook, [path], transcribe=HearsNothing(), channels="staff,citizen,ignore,ignore,ignore,ignore")
    result = report.files[0]
    assert result.status == "done"
    assert len(result.warnings) == 1 and "channel 4" in result.warnings[0] and "ignored" in result.warnings[0]


def test_the_speech_pipeline_hears_a_mapped_channel_beyond_the_first_two(tmp_path):
    from audio_capture.channels import ChannelMap
    from audio_capture.vad import detect_speech_blocks
    from windowqa.speech import PipelineOptions
    from windowqa.speech.pipeline import recording_blocks

    path = tmp_path / "six.flac"
    _six_channels(path, {3: 1.0, 5: 1.0})
    blocks, channels = recording_blocks(path, PipelineOptions(), ChannelMap.parse("ignore,ignore,ignore,staff"))
    segments = list(detect_speech_blocks(blocks))
    assert channels == 6 and segments and {s.channel for s in segments} == {3}


def test_overlapping_speech_on_two_mapped_channels_stays_two_channels(tmp_path):
    from audio_capture.channels import ChannelMap
    from audio_capture.vad import detect_speech_blocks
    from windowqa.speech import PipelineOptions
    from windowqa.speech.pipeline import for_recording, recording_blocks

    path = tmp_path / "six.wav"
    _six_channels(path, {0: 1.0, 1: 1.5}, clips={1: DATA / "speech" / "kimi_asr_example.flac"})
    roles = ChannelMap.parse("staff,citizen,ignore,ignore,ignore,ignore")
    options = for_recording(path, PipelineOptions(), roles)
    assert not options.downmix  # two people talking at once are two microphones, not one source
    blocks, channels = recording_blocks(path, options, roles)
    assert channels == 6 and {s.channel for s in detect_speech_blocks(blocks)} == {0, 1}


# ------------------------------------------------------------------ 3. faults


def test_full_archive_disk_is_a_per_file_reason_retried_later(site, rulebook, tmp_path, small_disk):
    big = _big_transcript(tmp_path / "in", 2)
    small = day_files(tmp_path / "in2", [datetime(2026, 3, 3, 9, 0, 0)])[0]
    report = _ingest(site, rulebook, [big, small], archive_dir=small_disk)
    assert [f.status for f in report.files] == ["failed", "done"]
    assert "archive" in report.files[0].reason and "No space left" in report.files[0].reason
    assert report.files[0].failure_kind == "outside"
    assert not list(small_disk.rglob("*.part")), "a partial copy was left on the full disk"
    roomy = tmp_path / "archive"
    again = _ingest(site, rulebook, [big], archive_dir=roomy)
    assert again.files[0].status == "done", again.files[0].reason


def test_stale_part_files_are_removed_at_the_next_start(site, rulebook, tmp_path):
    archive = tmp_path / "archive"
    stale = archive / "A03" / "2026-03-01" / "A03_20260301-090000.wav.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\0" * 1000)
    files = day_files(tmp_path / "in", [DAY])
    report = _ingest(site, rulebook, files, archive_dir=archive)
    assert report.files[0].status == "done" and not stale.exists()


def test_files_of_other_types_are_listed_as_skipped(site, rulebook, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "notes.txt").write_text("not audio", encoding="utf-8")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    good = day_files(tmp_path / "t", [DAY])[0]
    report = _ingest(site, rulebook, [folder, good])
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name[good.name].status == "done"
    for name in ("notes.txt", "photo.jpg"):
        assert by_name[name].status == "skipped" and "not an audio file" in by_name[name].reason


def test_locked_database_is_a_per_file_reason(tmp_path, rulebook):
    db_file = tmp_path / "w.db"
    settings = Settings(database_url=f"sqlite:///{db_file}", database_busy_timeout_s=0.3)
    from models.db import init_db

    engine = init_db(make_engine(settings))
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
    files = day_files(tmp_path / "in", [DAY, datetime(2026, 3, 3, 9, 0, 0)])
    other = sqlite3.connect(db_file)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the database longer than the busy timeout
    try:
        report = _ingest(factory, rulebook, files)
    finally:
        other.rollback()
        other.close()
    assert [f.status for f in report.files] == ["failed", "failed"]
    assert all("locked" in f.reason and f.failure_kind == "outside" for f in report.files), report.files
    again = _ingest(factory, rulebook, files)
    assert [f.status for f in again.files] == ["done", "done"]
    engine.dispose()


def test_full_disk_for_the_classifier_cache_still_gives_a_classifier(rulebook, small_disk):
    from nlp.classifier import load_or_train_classifier
    from nlp.normalize import TextNormalizer

    filler = small_disk / "filler"
    with filler.open("wb") as fh:  # the disk is full before the cache is written
        try:
            fh.write(b"\0" * (2 * 1024 * 1024))
        except OSError:
            pass
    classifier = load_or_train_classifier(rulebook, TextNormalizer.for_rulebook(rulebook), cache_dir=small_disk / "nlp")
    assert classifier is not None
    leftovers = [p for p in small_disk.rglob("*") if p.is_file() and p != filler]
    assert leftovers == [], leftovers


def test_a_bad_channel_map_stops_the_run_before_any_file(site, rulebook, tmp_path):
    from windowqa.ingest import IngestError

    files = day_files(tmp_path / "in", [DAY])
    with pytest.raises(IngestError, match="unknown role 'left'"):
        _ingest(site, rulebook, files, channels="staff,left")
    with site() as s, s.begin():
        from models.db import Window

        s.scalar(select(Window).where(Window.code == "A03")).channel_map = {"0": "staff", "1": "speaker"}
    with pytest.raises(IngestError, match="A03's channel_map: unknown role 'speaker'"):
        _ingest(site, rulebook, files)
