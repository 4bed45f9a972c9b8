"""Voiceprints: the d-vector engine on real speech, speaker changes, roles, storage, eval roles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from _store_support import sqlite_url  # noqa: F401  (fixture)
from audio_capture.speakers import (
    ChangeOptions, RoleOptions, VoiceStretch, label_voices, merge_same_role, speaker_changes, split_by_voice, split_segment,
    voiceprint_changes,
)
from audio_capture.voice import SAMPLE_RATE, DVectorEngine, VoiceEngineUnavailableError, build_voice_engine, cosine
from audio_capture.voice_eval import (
    MixOptions, RefTurn, RoleManifestError, alternate_turns, match_changes, read_turns, reference_changes,
    score_stretches, trim_silence, write_turns,
)

SPEECH = Path(__file__).parent / "data" / "speech"


@pytest.fixture(scope="module")
def engine() -> DVectorEngine:
    return build_voice_engine("dvector")


def _clip(name: str) -> np.ndarray:
    samples, rate = sf.read(SPEECH / f"{name}.flac", dtype="float32")
    assert rate == SAMPLE_RATE
    return samples


# ---------------------------------------------------------------------------- engine, real model


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(VoiceEngineUnavailableError, match="not found"):
        DVectorEngine(tmp_path / "nope.onnx")
    with pytest.raises(ValueError, match="unknown voice engine"):
        build_voice_engine("pyannote")


def test_features_follow_the_encoders_recipe(engine):
    """The packaged recipe (librosa melspectrogram, Hamming, log10) gives the same features."""
    import librosa

    samples = _clip("paddle_zh")
    ref = librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE, n_fft=512, win_length=400, hop_length=160,
                                         n_mels=40, window="hamming", center=False, power=2.0)
    assert np.allclose(engine.log_mel(samples), np.log10(ref + 1e-10).T, atol=1e-3)


def test_same_speaker_is_closer_than_another(engine):
    kimi, paddle = _clip("kimi_asr_example"), _clip("paddle_zh")
    half = kimi.size // 2
    a, b, other = engine.embed(kimi[:half]), engine.embed(kimi[half:]), engine.embed(paddle)
    assert a.shape == (256,) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-4
    assert cosine(a, b) > cosine(a, other) + 0.2
    starts, vectors = engine.embed_windows(paddle, 1.0, 0.1)
    assert len(starts) == len(vectors) > 30 and np.allclose(np.diff(starts), 0.1)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert speaker_changes(starts, vectors, 1.0).change_s == ()  # one speaker alone is never split
    with pytest.raises(ValueError):
        engine.embed_windows(paddle, 0.5, 0.1)  # shorter than the encoder's 0.8 s block


def test_mono_mix_of_two_real_speakers_is_split_at_the_turns(engine):
    """Issue 17, done when: turns with <= 0.5 s gaps are split within 0.5 s; roles by voiceprint."""
    kimi, paddle = trim_silence(_clip("kimi_asr_example")), _clip("paddle_zh")
    head = int(1.5 * SAMPLE_RATE)  # the staff member's enrolment, kept out of the mix
    mix, turns = alternate_turns(kimi[head:], paddle, seed=0, options=MixOptions(min_turn_s=1.0, max_turn_s=2.0))
    gaps = [b.start_s - a.end_s for a, b in zip(turns, turns[1:])]
    assert len(turns) >= 4 and max(gaps) <= 0.5
    split = split_segment(engine, mix, {})
    ref = reference_changes(turns)
    assert len(split.change_s) == len(ref)
    assert all(abs(c - r) <= 0.5 for c, r in zip(split.change_s, ref)), (split.change_s, ref)
    assert {s.role for s in split.stretches} == {"unknown"}  # no voiceprint: content decides
    # A voiceprint from other speech of the staff member labels the stretches.
    enrol = engine.embed(kimi[:head])
    voiced = split_segment(engine, mix, {"S01": enrol}, offset_s=0.0)
    shifted = split_segment(engine, mix, {"S01": enrol}, offset_s=100.0)  # times on the recording's clock
    assert [round(c - 100.0, 3) for c in shifted.change_s] == [round(c, 3) for c in voiced.change_s]
    score = score_stretches(turns, voiced.stretches, voiced.change_s, 0.5)
    assert score.turns_right == score.turns
    assert {s.speaker_key for s in voiced.stretches if s.role == "staff"} == {"S01"}


# ---------------------------------------------------------------------------- pure functions


def _voices(pattern: str, hop_s: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Windows of two synthetic voices ('a'/'b' per window) with noise."""
    rng = np.random.default_rng(seed)
    a, b = np.eye(8)[0], np.eye(8)[1] * 0.8 + np.eye(8)[0] * 0.6
    vectors = np.array([(a if ch == "a" else b) + rng.normal(0, 0.05, 8) for ch in pattern], np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.arange(len(pattern)) * hop_s, vectors


def test_speaker_changes_on_synthetic_windows():
    starts, vectors = _voices("a" * 20 + "b" * 15 + "a" * 20)
    result = speaker_changes(starts, vectors, 0.1, ChangeOptions(min_turn_s=0.5))
    assert [round(c, 2) for c in result.change_s] == [2.0, 3.5]
    assert result.distance > ChangeOptions().min_distance
    one = speaker_changes(*_voices("a" * 40), 0.1)
    assert one.change_s == () and one.distance < ChangeOptions().min_distance
    # a 0.2 s blip of the other voice is shorter than min_turn_s: no change
    assert speaker_changes(*_voices("a" * 20 + "b" * 2 + "a" * 20), 0.1, ChangeOptions(min_turn_s=0.5)).change_s == ()
    assert speaker_changes(np.zeros(1), np.ones((1, 8)), 1.0).change_s == ()


def test_roles_from_voiceprints_and_unknown_without():
    starts, vectors = _voices("a" * 20 + "b" * 20)
    staff_print = vectors[:20].mean(axis=0)
    split = split_by_voice(starts, vectors, 0.1, 0.0, 4.0, {"0101": staff_print}, ChangeOptions(), RoleOptions())
    assert [(s.role, s.speaker_key) for s in split.stretches] == [("staff", "0101"), ("citizen", None)]
    assert split.role_options == RoleOptions() and split.change_s == (2.0,)
    no_print = split_by_voice(starts, vectors, 0.1, 0.0, 4.0, {})
    assert [s.role for s in no_print.stretches] == ["unknown", "unknown"]
    # neither voice near the print nor clearly closer than the other: unknown, not a guess
    far = np.eye(8)[5].astype(np.float32)
    assert [r for r, _, _ in label_voices([vectors[0], vectors[-1]], {"X": far})] == ["citizen", "citizen"]
    close = RoleOptions(staff_min_similarity=0.99, citizen_max_similarity=0.0, min_margin=0.5)
    assert [r for r, _, _ in label_voices([vectors[0], vectors[-1]], {"X": vectors[0] + vectors[-1]}, close)] \
        == ["unknown", "unknown"]


def test_a_turn_in_the_staff_voices_cluster_but_far_from_the_voiceprint_is_citizen():
    """Two-means over a segment of three voices (the demo's long VAD segments) puts a citizen
    who sounds a little like the staff member in the staff voice's cluster; their turn's own
    similarity to the voiceprint (0.75 against 1.0 for the staff turn) makes it a citizen's."""
    a, b = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    c = (0.75 * a + 0.66 * b) / np.linalg.norm(0.75 * a + 0.66 * b)
    vectors = np.array([a] * 20 + [b] * 15 + [c] * 15, np.float32)
    starts = np.arange(len(vectors)) * 0.1
    split = split_by_voice(starts, vectors, 0.1, 0.0, 5.0, {"0101": a}, ChangeOptions(), RoleOptions())
    assert split.change_s == (2.0, 3.5)
    assert [s.role for s in split.stretches] == ["staff", "citizen"]  # b and c joined as citizen
    assert split.stretches[1].start_s == 2.0


def test_a_lone_turn_far_below_the_staff_voice_heard_earlier_is_left_to_the_content():
    """Recorded windows of a mono demo hall (tests/data/voice/SOURCES.md): a citizen alone in a
    segment scores 0.74 against the staff voiceprint, enough to be staff on its own; against
    the 0.95 the staff member's own stretch scored earlier in the recording it is doubtful,
    so the content decides. The staff member's later stretches stay staff."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_b01_windows.npz")
    prints = {"1003": data["voiceprint_1003"].astype(np.float32)}

    def split(name, staff_best=float("-inf")):
        lo, hi = data[f"{name}_bounds"]
        return split_by_voice(data[f"{name}_starts"], data[f"{name}_vectors"].astype(np.float32), 1.0, lo, hi, prints,
                              staff_best=staff_best)

    alone = split("citizen")
    assert [s.role for s in alone.stretches] == ["staff"]  # nothing heard before: the voice alone says staff
    staff = split("staff")
    assert [s.role for s in staff.stretches] == ["staff"] and staff.staff_best > 0.9
    citizen = split("citizen", staff.staff_best)
    assert [s.role for s in citizen.stretches] == ["unknown"]
    assert citizen.staff_best == staff.staff_best  # a doubtful stretch does not lower the bar
    later = split("staff_later", citizen.staff_best)
    assert [s.role for s in later.stretches] == ["staff", "citizen", "staff"]
    wide = RoleOptions(recording_margin=0.25)
    lo, hi = data["citizen_bounds"]
    assert [s.role for s in split_by_voice(data["citizen_starts"], data["citizen_vectors"].astype(np.float32), 1.0,
                                           lo, hi, prints, role_options=wide, staff_best=staff.staff_best
                                           ).stretches] == ["staff"]


def test_two_close_voices_the_voiceprint_tells_apart_are_split():
    """Recorded windows of a mono demo segment (tests/data/voice/SOURCES.md): staff and a citizen
    whose voices are closer than ``min_distance`` but 0.97 and 0.77 from the staff voiceprint."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_a01_windows.npz")
    prints = {"1001": data["voiceprint_1001"].astype(np.float32)}
    args = (data["starts"], data["vectors"].astype(np.float32), 1.0, *data["bounds"], prints)
    assert [s.role for s in split_by_voice(*args, ChangeOptions(voiceprint_gap=0.0)).stretches] == ["staff"]
    split = split_by_voice(*args)
    assert [s.role for s in split.stretches] == ["citizen", "staff", "citizen", "staff", "citizen"]
    truth = [(16.44, 17.33), (20.48, 21.47), (23.15, 24.02), (25.68, 26.49)]  # end of a line, start of the next
    for change, (end, start) in zip(split.change_s, truth):
        assert end - 0.5 <= change <= start + 0.5


def test_refined_changes_that_cross_are_dropped_and_the_stretches_tile_the_segment():
    """Recorded windows of a mono demo segment (tests/data/voice/SOURCES.md) where the refinement
    moved a change (22.07 s) past the next one (21.77 s): the inverted stretch and the two
    overlapping ones around it lost the words of the staff line after them in decoding."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_a02_crossing_windows.npz")
    vectors = data["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lo, hi = (float(x) for x in data["segment_s"])
    starts = lo + np.arange(len(vectors)) * 0.1
    raw = speaker_changes(starts, vectors, 1.0, ChangeOptions(refine_s=0.0)).change_s
    changes = speaker_changes(starts, vectors, 1.0, ChangeOptions(refine_s=0.5))
    assert all(a < b for a, b in zip(changes.change_s, changes.change_s[1:]))
    assert len(changes.change_s) == len(raw) - 2  # the crossed pair only
    assert int(np.sum(np.diff(changes.labels) != 0)) == len(changes.change_s)  # the labels agree
    prints = {"1002": data["voiceprint_1002"].astype(np.float32)}
    for options in (ChangeOptions(refine_s=0.5), ChangeOptions()):
        split = split_by_voice(starts, vectors, 1.0, lo, hi, prints, options)
        bounds = [(s.start_s, s.end_s) for s in split.stretches]
        assert bounds[0][0] == lo and bounds[-1][1] == hi
        assert all(a < b for a, b in bounds) and all(b0[1] == b1[0] for b0, b1 in zip(bounds, bounds[1:]))
        # the staff line after the citizen's (true 24.43-28.08 s) is one staff stretch from its start
        assert (split.stretches[-1].role, split.stretches[-1].speaker_key) == ("staff", "1002")
        assert split.stretches[-1].start_s <= 24.8


def test_merge_same_role_and_change_matching():
    stretches = (VoiceStretch(0, 1, "staff", 0.8, "1"), VoiceStretch(1, 2, "staff", 0.7, "1"),
                 VoiceStretch(2, 3, "unknown", 0.5), VoiceStretch(3, 4, "unknown", 0.5))
    assert [(s.start_s, s.end_s) for s in merge_same_role(stretches)] == [(0, 2), (2, 3), (3, 4)]
    assert match_changes([1.0, 3.0], [1.4, 1.2, 5.0], 0.5) == 1  # one to one, within tolerance


def test_score_stretches_counts():
    turns = (RefTurn(0.0, 2.0, "staff", "A"), RefTurn(2.4, 4.0, "citizen", "B"), RefTurn(4.2, 6.0, "staff", "A"))
    stretches = (VoiceStretch(0.0, 2.2, "staff", 0.8, "A"), VoiceStretch(2.2, 5.0, "citizen", 0.2),
                 VoiceStretch(5.0, 6.0, "unknown", 0.5))
    score = score_stretches(turns, stretches, (2.2, 5.0), 0.5)
    assert (score.turns, score.turns_right) == (3, 2)  # the last turn is mostly citizen
    assert score.confused_s == pytest.approx(0.8) and score.unknown_s == pytest.approx(1.0)
    assert (score.ref_changes, score.changes_found, score.hyp_changes) == (2, 1, 2)
    summary = score.summary()
    assert summary["role_accuracy"] == pytest.approx(0.6667) and summary["role_der"] == pytest.approx(1.8 / 5.4, abs=1e-4)


def test_turns_file_round_trip_and_errors(tmp_path):
    turns = (RefTurn(0.0, 1.5, "staff", "A"), RefTurn(1.8, 3.0, "citizen", "B"))
    write_turns(tmp_path / "t.tsv", turns)
    assert read_turns(tmp_path / "t.tsv") == turns
    (tmp_path / "bad.tsv").write_text("start_s\tend_s\trole\tspeaker\n0\t1\tboss\tA\n", encoding="utf-8")
    with pytest.raises(RoleManifestError, match=r"bad.tsv:2"):
        read_turns(tmp_path / "bad.tsv")
    with pytest.raises(RoleManifestError, match="cannot read"):
        read_turns(tmp_path / "missing.tsv")


# ---------------------------------------------------------------------------- storage and CLI


def test_voiceprints_store_load_delete(sqlite_url):  # noqa: F811
    from audio_capture.voiceprints import UnknownStaffNoError, delete_voiceprints, load_voiceprints, save_voiceprint
    from models.db import open_database

    factory = open_database(sqlite_url)
    with factory() as s, s.begin():
        with pytest.raises(UnknownStaffNoError):
            save_voiceprint(s, "0707", np.ones(4), engine="e")
        save_voiceprint(s, "0707", np.array([1, 0, 0, 0]), engine="e", sources=["/x/a.wav"], create_name="王")
        save_voiceprint(s, "0707", np.array([0, 1, 0, 0]), engine="e", sources=["/x/b.wav"])
        save_voiceprint(s, "0808", np.array([0, 0, 1, 0]), engine="e", create_name="李")
        with pytest.raises(ValueError):
            save_voiceprint(s, "0808", np.array([np.nan]), engine="e")
    with factory() as s:
        prints = load_voiceprints(s, "e")
        assert set(prints) == {"0707", "0808"} and np.allclose(prints["0707"], [0.7071, 0.7071, 0, 0], atol=1e-4)
        assert set(load_voiceprints(s, "e", ["0808"])) == {"0808"} and load_voiceprints(s, "other") == {}
    with factory() as s, s.begin():
        assert delete_voiceprints(s, "0707") == 2
    with factory() as s:
        assert set(load_voiceprints(s, "e")) == {"0808"}


def test_cli_voice_enroll_unenroll_and_eval_roles(sqlite_url, tmp_path):  # noqa: F811
    from windowqa.cli import app

    runner = CliRunner()
    kimi = str(SPEECH / "kimi_asr_example.flac")
    res = runner.invoke(app, ["voice", "enroll", "--staff", "0909", kimi, "--db", sqlite_url])
    assert res.exit_code == 2 and "unknown staff" in res.output
    res = runner.invoke(app, ["voice", "enroll", "--staff", "0909", "--name", "测试",
                              str(SPEECH / "uberi_chinese.flac"), "--db", sqlite_url])
    assert res.exit_code == 1 and "need 3.0 s" in res.output  # under a second of speech
    res = runner.invoke(app, ["voice", "enroll", "--staff", "0909", "--name", "测试", kimi, "--db", sqlite_url])
    assert res.exit_code == 0 and "audio not kept" in res.output, res.output
    res = runner.invoke(app, ["voice", "unenroll", "--staff", "0909", "--db", sqlite_url])
    assert res.exit_code == 0 and "1 voiceprint(s) deleted" in res.output
    # withdrawing consent for attendance removes the voiceprint too (biometric data goes together)
    res = runner.invoke(app, ["voice", "enroll", "--staff", "0909", kimi, "--db", sqlite_url])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["attendance", "unenroll", "--staff", "0909", "--db", sqlite_url])
    assert res.exit_code == 0 and "1 voiceprint(s) deleted" in res.output, res.output

    # eval roles on one mix: the staff member enrolled from a part of their clip kept out of the mix
    kimi_s = trim_silence(_clip("kimi_asr_example"))
    head = int(1.5 * SAMPLE_RATE)
    mix, turns = alternate_turns(kimi_s[head:], _clip("wenet_aishell1_BAC009S0724W0121"), seed=0,
                                 options=MixOptions(min_turn_s=1.0, max_turn_s=2.0))
    sf.write(tmp_path / "mix.wav", mix, SAMPLE_RATE, subtype="PCM_16")
    sf.write(tmp_path / "enrol.wav", kimi_s[:head], SAMPLE_RATE, subtype="PCM_16")
    write_turns(tmp_path / "mix.turns.tsv", turns)
    (tmp_path / "m.tsv").write_text("audio\tturns\tstaff_no\tenrol\nmix.wav\tmix.turns.tsv\t0909\tenrol.wav\n",
                                    encoding="utf-8")
    res = runner.invoke(app, ["eval", "roles", str(tmp_path / "m.tsv"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["mixes"] == 1 and out["turns"] == len(turns) and out["engine"] == "dvector-vfl"
    assert out["role_accuracy"] >= 0.75 and out["change_recall"] >= 0.5
    assert out["options"]["split"]["window_s"] == 1.0 and out["options"]["split"]["change"]["min_distance"] == 0.24
    res = runner.invoke(app, ["eval", "roles", str(tmp_path / "none.tsv")])
    assert res.exit_code == 2 and "cannot read" in res.output


def test_a_citizen_who_sounds_like_the_staff_member_is_split_off_along_the_voiceprint():
    """Recorded windows of a mono demo segment (tests/data/voice/SOURCES.md: seed 78, B02-am) whose
    two 2-means voices are 0.18 apart and about as near the voiceprint (0.89 / 0.85): before, the
    whole segment, three citizen lines among them, was the staff member's."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_b02_alike_windows.npz")
    vectors = data["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lo, hi = (float(x) for x in data["segment_s"])
    starts = lo + np.arange(len(vectors)) * 0.1
    prints = {"1004": data["voiceprint_1004"].astype(np.float32)}
    assert speaker_changes(starts, vectors, 1.0).change_s == ()
    assert voiceprint_changes(starts, vectors, 1.0, prints["1004"], ChangeOptions(voiceprint_gap=0.25)).change_s == ()
    assert [s.role for s in split_by_voice(starts, vectors, 1.0, lo, hi, prints, ChangeOptions(voiceprint_gap=0.0)).stretches] \
        == ["staff"]
    split = split_by_voice(starts, vectors, 1.0, lo, hi, prints)
    truth = [(10.77, 14.19, "citizen"), (15.15, 18.06, "staff"), (21.09, 22.74, "staff"), (23.57, 24.97, "citizen")]
    for start, end, role in truth:  # the role of the stretches that hold most of each line
        held: dict[str, float] = {}
        for s in split.stretches:
            held[s.role] = held.get(s.role, 0.0) + max(0.0, min(s.end_s, end) - max(s.start_s, start))
        assert max(held, key=held.get) == role, (start, held)
    assert split.stretches[0].role == "citizen" and split.stretches[0].end_s <= 15.15 + 0.5
