"""Ingest with voiceprints (issue 17): a mono recording split by voice, and who is serving by voice.

A mono mix of two real speakers from tests/data/speech (kimi = the staff member, paddle = a
citizen; turns with <= 0.5 s gaps) is ingested for window A03 (1001 rostered on 2026-03-02)
with real Whisper and the real d-vector engine: once with 1001's voiceprint from other speech
of the kimi speaker (staff lines staff, citizen lines citizen, no who-is-serving flag), once
with that voice enrolled as 2002 and another voice as 1001's (the flag names 2002).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from _store_support import DATA
from audio_capture.voice import SAMPLE_RATE, build_voice_engine
from audio_capture.voice_eval import MixOptions, alternate_turns, trim_silence
from audio_capture.voiceprints import load_voiceprints, save_voiceprint
from models.db import Flag, FlagKind, Recording, Utterance, init_db, make_engine, make_session_factory
from scoring.store import window_by_code
from scoring.store.site import load_site
from windowqa.ingest import IngestOptions, ingest, speech_transcriber
from windowqa.speech.voices import HeardVoice, ServingOptions, VoiceSplitter, day_roster, other_staff

pytestmark = pytest.mark.slow
SPEECH = Path(__file__).parent / "data" / "speech"
HEAD_S = 1.5  # the staff member's enrolment speech, kept out of the mix


def _clip(name: str) -> np.ndarray:
    samples, rate = sf.read(SPEECH / f"{name}.flac", dtype="float32")
    assert rate == SAMPLE_RATE
    return samples


@pytest.fixture(scope="module")
def engine():
    return build_voice_engine("dvector")


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    kimi, paddle = trim_silence(_clip("kimi_asr_example")), _clip("paddle_zh")
    head = int(HEAD_S * SAMPLE_RATE)
    audio, turns = alternate_turns(kimi[head:], paddle, seed=0, options=MixOptions(min_turn_s=1.0, max_turn_s=2.0))
    lead = np.zeros(SAMPLE_RATE, np.float32)
    path = tmp_path_factory.mktemp("mono") / "A03_20260302-090000.wav"
    sf.write(str(path), np.concatenate([lead, audio, lead]), SAMPLE_RATE, subtype="PCM_16")
    return path, [(t.start_s + 1.0, t.end_s + 1.0, t.role) for t in turns], kimi[:head]


def _hall_with_voiceprints(tmp_path, name, prints, engine, rulebook):
    """A store of the test hall with these staff voiceprints (staff no -> vector) enrolled."""
    factory = make_session_factory(init_db(make_engine(f"sqlite:///{tmp_path / name}.db")))
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
        for staff_no, vector in prints.items():
            save_voiceprint(s, staff_no, vector, engine=engine.name, speech_s=HEAD_S)
    return factory


def _ingest(tmp_path, name, prints, engine, transcriber, matcher, rulebook, path):
    factory = _hall_with_voiceprints(tmp_path, name, prints, engine, rulebook)
    with factory() as s:
        window_id = window_by_code(s, "A03").id
        enrolled = load_voiceprints(s, engine.name)
    splitter = VoiceSplitter(engine, enrolled, day_roster(factory, window_id))
    report = ingest([path], IngestOptions(window="A03", progress=False), session_factory=factory,
                    transcribe=speech_transcriber(transcriber, voice=splitter), matcher=matcher, rulebook=rulebook)
    assert report.count("done") == 1, report.files
    return factory


def _queued(tmp_path, name, prints, engine, transcriber, matcher, rulebook, path):
    from windowqa.queue_ingest import Engines, QueueOptions, enqueue, run_job, voice_transcribe_for

    factory = _hall_with_voiceprints(tmp_path, name, prints, engine, rulebook)
    sent = []
    enqueue([path], QueueOptions(window="A03", archive=False), session_factory=factory, rulebook=rulebook,
            archive_dir=None, send=lambda job_id, args: sent.append((job_id, args)))
    plain = speech_transcriber(transcriber, matcher=matcher)  # what a worker without voice checks would use
    engines = Engines(factory, rulebook, plain, matcher, None, None, None,
                      transcribe_for=voice_transcribe_for(factory, transcriber, matcher))
    outcomes = [run_job(job_id, args, engines) for job_id, args in sent]
    assert [o.result.status for o in outcomes] == ["done"], outcomes
    with factory() as s:
        assert s.scalar(select(Recording.pipeline_options))["voice"]["engine"] == engine.name
    return factory


def _role_of_turn(turns, start_s, end_s):
    mid = (start_s + end_s) / 2
    return min(turns, key=lambda t: 0 if t[0] <= mid <= t[1] else min(abs(t[0] - mid), abs(t[1] - mid)))[2]


def test_mono_recording_is_split_by_voice_and_staff_checked(tmp_path, mix, engine, transcriber, matcher, rulebook):
    path, turns, enrol_audio = mix
    enrol = engine.embed(enrol_audio)
    unlike = engine.embed(trim_silence(_clip("uberi_chinese")))  # another staff voice, unlike both
    factory = _ingest(tmp_path, "own", {"1001": enrol, "2002": unlike}, engine, transcriber, matcher, rulebook, path)
    with factory() as s:
        rows = s.scalars(select(Utterance).order_by(Utterance.start_s)).all()
        got = [(r.role.value, _role_of_turn(turns, r.start_s, r.end_s), r.text) for r in rows]
        assert len(rows) >= 4, got
        right = sum(role == ref for role, ref, _ in got)
        assert right >= len(got) - 1 and {"staff", "citizen"} <= {g[0] for g in got}, got
        # the rostered staff member's own voice never raises the who-is-serving flag
        assert s.scalars(select(Flag).where(Flag.kind == FlagKind.STAFF_MISMATCH)).all() == []
        options = s.scalar(select(Recording.pipeline_options))
        assert options["voice"]["engine"] == engine.name and options["voice"]["serving"]["min_speech_s"] > 0
        # the join of staff stretches and the bridge are stored with the split they shaped
        assert options["voice"]["split"]["join_gap_s"] == 0.3
        assert options["voice"]["split"]["roles"]["staff_bridge_s"] == 1.5
        assert options["voice"]["split"]["roles"]["bridge_max_drop"] == 0.15
        assert options["voice"]["split"]["roles"]["extend_s"] == 2.5
        assert options["voice"]["split"]["change"]["refine_s"] == 0.0

    # The same voice enrolled as 2002 (not rostered at A03), the other voice as 1001's; this time
    # as a worker runs the job (`ingest --queue`): its engines build the window's voice checks.
    factory = _queued(tmp_path, "other", {"1001": unlike, "2002": enrol}, engine, transcriber, matcher, rulebook, path)
    with factory() as s:
        flags = s.scalars(select(Flag).where(Flag.kind == FlagKind.STAFF_MISMATCH)).all()
        assert len(flags) == 1, [f.summary for f in flags]
        evidence = flags[0].evidence
        assert evidence["by"] == "voice" and evidence["heard_staff_no"] == "2002"
        assert evidence["on_duty_staff_nos"] == ["1001"] and "2002" in flags[0].summary
        staff_roles = [u.role.value for u in s.scalars(select(Utterance)).all()
                       if _role_of_turn(turns, u.start_s, u.end_s) == "staff"]
        assert staff_roles.count("staff") >= len(staff_roles) - 1  # their words still count as staff


def test_mono_staff_stretches_carry_the_voiceprint_they_were_labelled_by(mix, engine, transcriber):
    """The pipeline hands each stretch's voiceprint key on (``HeardUtterance.speaker``): the
    stream joins abutting staff stretches of one key."""
    from datetime import datetime

    path, _, enrol_audio = mix
    splitter = VoiceSplitter(engine, {"1001": engine.embed(enrol_audio)}, lambda _: ["1001"])
    heard = list(speech_transcriber(transcriber, voice=splitter)(path, started_at=datetime(2026, 3, 2, 9),
                                                                 channel_map=None))
    staff = [h for h in heard if h.utterance.role.value == "staff"]
    assert staff and {h.speaker for h in staff} == {"1001"}
    assert {h.speaker for h in heard if h.utterance.role.value != "staff"} == {None}


def test_other_staff_needs_a_clear_margin():
    o = ServingOptions(min_similarity=0.55, min_margin=0.1)
    assert other_staff(HeardVoice({"1001": 0.5, "2002": 0.8}, 2.0), {"1001"}, o) == "2002"
    assert other_staff(HeardVoice({"1001": 0.75, "2002": 0.8}, 2.0), {"1001"}, o) is None  # too close
    assert other_staff(HeardVoice({"1001": 0.9, "2002": 0.6}, 2.0), {"1001"}, o) is None  # the rostered voice
    assert other_staff(HeardVoice({"2002": 0.5}, 2.0), set(), o) is None  # not similar enough
    assert other_staff(HeardVoice({"1001": 0.8}, 2.0), {"1001"}, o) is None


def test_stereo_staff_voice_checked_and_enrolment_from_the_store(tmp_path, mix, engine, transcriber, matcher, rulebook):
    """Stereo B01 (2001 rostered): the lapel channel's voice is embedded (own voice: no flag),
    and ``enroll --from-store`` makes 2001's voiceprint from those lapel utterances."""
    from windowqa.speech.enrol import enrol_from_store

    path, turns, enrol_audio = mix
    mono, _ = sf.read(str(path), dtype="float32")
    stereo = np.zeros((mono.size, 2), np.float32)
    for start_s, end_s, role in turns:
        lo, hi = int(start_s * SAMPLE_RATE), int(end_s * SAMPLE_RATE)
        stereo[lo:hi, 0 if role == "staff" else 1] = mono[lo:hi]
    stereo_path = tmp_path / "B01_20260302-100000.wav"
    sf.write(str(stereo_path), stereo, SAMPLE_RATE, subtype="PCM_16")
    factory = make_session_factory(init_db(make_engine(f"sqlite:///{tmp_path / 'stereo'}.db")))
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
        save_voiceprint(s, "2001", engine.embed(enrol_audio), engine=engine.name, speech_s=HEAD_S)
        save_voiceprint(s, "2002", engine.embed(trim_silence(_clip("uberi_chinese"))), engine=engine.name, speech_s=1.0)
        window_id = window_by_code(s, "B01").id
        enrolled = load_voiceprints(s, engine.name)
    source = speech_transcriber(transcriber, voice=VoiceSplitter(engine, enrolled, day_roster(factory, window_id)))
    heard = list(source(stereo_path, started_at=None, channel_map={"0": "staff", "1": "citizen"}))
    voiced = [h for h in heard if h.voice is not None]
    assert voiced and all(h.utterance.role.value == "staff" and h.voice.nearest()[0] == "2001" for h in voiced)
    archive = tmp_path / "archive"
    report = ingest([stereo_path], IngestOptions(window="B01", progress=False, archive_dir=archive),
                    session_factory=factory, transcribe=source, matcher=matcher, rulebook=rulebook)
    assert report.count("done") == 1, report.files
    with factory() as s, s.begin():
        assert s.scalars(select(Flag).where(Flag.kind == FlagKind.STAFF_MISMATCH)).all() == []
        assert not Path(s.scalar(select(Recording.path))).is_absolute()  # archived: relative to the archive
        speech = enrol_from_store(s, "2001", engine, archive, min_speech_s=1.5)
        assert speech.stored and speech.utterances >= 1 and speech.missing == 0
    with factory() as s:
        print_2001 = load_voiceprints(s, engine.name, ["2001"])["2001"]
    # the stored print (enrolment + lapel speech) is the staff voice, not the citizen's
    assert float(print_2001 @ engine.embed(enrol_audio)) > float(print_2001 @ engine.embed(_clip("paddle_zh"))) + 0.1
    with factory() as s:
        gone = enrol_from_store(s, "2001", engine, tmp_path / "elsewhere", min_speech_s=1.5)
        assert not gone.stored and gone.missing == 1


def test_cli_voice_options_fail_clearly(tmp_path, monkeypatch, rulebook):
    from typer.testing import CliRunner

    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    factory = make_session_factory(init_db(make_engine(url)))
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
    runner = CliRunner()
    clip = str(SPEECH / "kimi_asr_example.flac")
    res = runner.invoke(app, ["ingest", clip, "--window", "A03", "--voice", "--db", url])
    assert res.exit_code == 2 and "no staff voiceprint" in res.output, res.output
    res = runner.invoke(app, ["voice", "enroll", "--staff", "2001", "--from-store", clip, "--db", url])
    assert res.exit_code == 2 and "not both" in res.output
    res = runner.invoke(app, ["voice", "enroll", "--staff", "2001", "--from-store", "--db", url])
    assert res.exit_code == 1 and "only 0.0 s of their lapel speech" in res.output, res.output
    res = runner.invoke(app, ["voice", "enroll", "--staff", "0909", "--from-store", "--db", url])
    assert res.exit_code == 2 and "unknown staff" in res.output, res.output


def test_filed_substitute_voice_raises_no_flag(tmp_path, rulebook):
    """1002 is filed as 1001's substitute at A03 on 2026-03-03 (hall.toml): their voice there that
    day is no flag; 2002's is, and so is 1002's on a day without a filing."""
    from datetime import datetime

    from models.domain import Utterance as Said
    from windowqa.speech.voices import raise_serving_flags

    factory = make_session_factory(init_db(make_engine(f"sqlite:///{tmp_path / 'subs'}.db")))
    options = ServingOptions()
    with factory() as s, s.begin():
        load_site(s, DATA / "site" / "hall.toml", rulebook)
        recordings = []
        for k in range(3):
            recordings.append(Recording(content_hash=f"h{k}", path=f"r{k}.wav", window_id=window_by_code(s, "A03").id))
            s.add(recordings[-1])
        s.flush()

        def said(day: int, minute: int) -> Said:
            return Said("您好", start_s=60.0 * minute, end_s=60.0 * minute + 4, started_at=datetime(2026, 3, day, 9, minute))

        def heard(no: str, day: int) -> list:
            voice = HeardVoice({"1001": 0.1, "1002": 0.1, "2002": 0.1} | {no: 0.6}, 2.0)
            return [(said(day, m), voice) for m in range(3)]

        assert raise_serving_flags(s, recordings[0], heard("1002", 3), options) == 0
        assert raise_serving_flags(s, recordings[1], heard("2002", 3), options) == 1
        assert raise_serving_flags(s, recordings[2], heard("1002", 2), options) == 1
        assert raise_serving_flags(s, recordings[2], heard("1002", 2), options) == 0  # raised once
        assert raise_serving_flags(s, recordings[0], heard("1001", 2)[:1], options) == 0  # own voice
        flags = s.scalars(select(Flag).order_by(Flag.id)).all()
        assert [f.evidence["heard_staff_no"] for f in flags] == ["2002", "1002"]
        assert flags[1].evidence["on_duty_staff_nos"] == ["1001"] and flags[1].recording_id == recordings[2].id
