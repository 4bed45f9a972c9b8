"""The demo's mono hall (issue 17): one microphone per window, enrolment recordings, and the
voice measures of ``eval demo`` (roles by utterance, who serves by voice)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from models.domain import Role
from windowqa.demo.evaluate_voice import roles_by_utterance, serving_by_voice
from windowqa.demo.simulator import HallSize, SimOptions, generate_hall, load_truth

MONO = SimOptions(seed=5, size=HallSize(windows=1, interactions=3, days=1), mono=True, substitute_pitch_st=-10.0, substitute_formant_ratio=1.1,
                  substitution_filed=False)


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return generate_hall(tmp_path_factory.mktemp("mono"), MONO)


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12))


def test_one_microphone_both_voices_citizen_lower_short_turns(hall):
    truth = hall.truth
    assert truth.channels == {"0": "unknown"} and {u.channel for u in truth.utterances} == {0}
    rec = truth.recordings[0]
    audio, rate = sf.read(str(hall.folder / rec.path), dtype="float32", always_2d=True)
    assert audio.shape[1] == 1 and rate == 16000
    lines = [u for u in truth.utterances if u.recording == rec.id]
    staff = np.median([_rms_db(audio[int(u.start_s * rate):int(u.end_s * rate), 0]) for u in lines if u.speaker is Role.STAFF])
    citizen = np.median([_rms_db(audio[int(u.start_s * rate):int(u.end_s * rate), 0]) for u in lines if u.speaker is Role.CITIZEN])
    # the citizen stands across the counter: about mono_citizen_db lower (per-person gains ±3 dB)
    assert staff - citizen == pytest.approx(-MONO.mono_citizen_db, abs=3.5)
    # a change of speaker comes after a short pause (typically under a second and a half);
    # a few scenarios script a longer one on purpose (a silent wait, staff stepping away)
    gaps = [b.start_s - a.end_s for a, b in zip(lines, lines[1:])
            if a.interaction == b.interaction and a.speaker is not b.speaker]
    assert gaps and float(np.median(gaps)) < 1.45 and min(gaps) >= MONO.mono_turn_pause_s[0] - 1e-6


def test_enrolment_recordings_and_site_file(hall):
    truth = load_truth(hall.folder)
    assert truth.options == MONO and truth.files.enrolment == "enrol"
    for person in truth.staff:  # every staff member and the substitute reads a few lines alone
        audio, rate = sf.read(str(hall.folder / "enrol" / f"{person.staff_no}.flac"), dtype="float32", always_2d=True)
        assert audio.shape[1] == 1 and audio.shape[0] / rate > 8.0
    site = tomllib.loads((hall.folder / truth.files.site).read_text(encoding="utf-8"))
    assert all(w["channel_map"] == {"0": "unknown"} for w in site["windows"])
    # the substitution happens (the truth has it) but is not filed in the site file
    assert truth.substitutes and "substitutes" not in site
    served_by_substitute = [i for i in truth.interactions if i.staff_no == truth.substitutes[0].substitute]
    assert served_by_substitute


def test_stereo_halls_are_unchanged_by_the_mono_options(tmp_path):
    stereo = generate_hall(tmp_path / "s", SimOptions(seed=5, size=MONO.size))
    assert not (tmp_path / "s" / "enrol").exists() and stereo.truth.files.enrolment is None
    audio, _ = sf.read(str(tmp_path / "s" / stereo.truth.recordings[0].path), always_2d=True)
    assert audio.shape[1] == 2


def _stored_from_truth(truth, rec_ids):
    """Stored utterances exactly as the truth's lines (one per line, the right role)."""
    out = {}
    for u in truth.utterances:
        out.setdefault(rec_ids[u.recording], []).append(SimpleNamespace(start_s=u.start_s, end_s=u.end_s, role=u.speaker))
    return out


def test_roles_by_utterance_counts_wrong_lost_and_mixed(hall):
    truth = hall.truth
    rec_ids = {r.id: k for k, r in enumerate(truth.recordings, 1)}
    stored = _stored_from_truth(truth, rec_ids)
    perfect = roles_by_utterance(truth, rec_ids, stored)
    assert perfect["accuracy"] == 1.0 and perfect["lost"] == 0 and perfect["mixed_utterances"] == 0
    first = stored[1]
    citizen = next(i for i, u in enumerate(first) if u.role is Role.CITIZEN)
    first[citizen] = SimpleNamespace(start_s=first[citizen].start_s, end_s=first[citizen].end_s, role=Role.STAFF)
    del first[0]  # a line nobody stored
    # one stored utterance spanning a staff line and the citizen's answer
    k = next(i for i in range(1, len(first) - 1) if first[i].role is Role.STAFF and first[i + 1].role is Role.CITIZEN)
    first[k:k + 2] = [SimpleNamespace(start_s=first[k].start_s, end_s=first[k + 1].end_s, role=Role.UNKNOWN)]
    worse = roles_by_utterance(truth, rec_ids, stored)
    assert worse["lost"] == 1 and worse["mixed_utterances"] == 1
    assert worse["correct"] == perfect["correct"] - 1 - 1 - 2 and worse["heard"] == perfect["heard"] - 1
    assert worse["confusion"]["citizen"]["staff"] == 1


def test_who_serves_by_voice_recall_and_false_flags(hall):
    truth = hall.truth
    rec_ids = {r.id: k for k, r in enumerate(truth.recordings, 1)}
    sub = truth.substitutes[0].substitute
    sub_rec = next(rec_ids[r.id] for r in truth.recordings if r.staff_no == sub)
    other_rec = next(rec_ids[r.id] for r in truth.recordings if r.staff_no != sub)
    n_sub = sum(1 for i in truth.interactions if i.staff_no == sub)

    flagged = serving_by_voice(truth, rec_ids, [(sub_rec, {"by": "voice", "heard_staff_no": sub})])
    assert flagged["flag_expected"] == n_sub and flagged["recall"] == 1.0 and flagged["false_flag_rate"] == 0.0
    silent = serving_by_voice(truth, rec_ids, [])
    assert silent["recall"] == 0.0 and silent["false_flags"] == 0
    wrong = serving_by_voice(truth, rec_ids, [(other_rec, {"by": "voice", "heard_staff_no": sub})])
    assert wrong["false_flags"] == sum(1 for i in truth.interactions if rec_ids[i.recording] == other_rec)
    # filed: the substitute is on duty, so the same flag is a false one
    filed = replace(truth, options=replace(truth.options, substitution_filed=True))
    as_filed = serving_by_voice(filed, rec_ids, [(sub_rec, {"by": "voice", "heard_staff_no": sub})])
    assert as_filed["flag_expected"] == 0 and as_filed["false_flags"] == n_sub


def test_part_of_a_hall_keeps_its_own_lines_interactions_and_ratings(hall):
    """``eval demo --stored-only / --recordings``: the truth of some recordings only."""
    from windowqa.demo.evaluate import _stored_part

    truth = hall.truth
    first = truth.recordings[0].id
    part = _stored_part(truth, {first})
    assert [r.id for r in part.recordings] == [first]
    assert part.interactions and {i.recording for i in part.interactions} == {first}
    assert {u.recording for u in part.utterances} == {first}
    ids = {i.id for i in part.interactions}
    assert all(r.interaction in ids for r in part.ratings) and all(c.interaction in ids for c in part.queue_calls)
    assert len(part.ratings) == sum(1 for r in truth.ratings if r.interaction in ids)


def test_the_substitutes_own_voice_reads_like_the_bank_and_is_another_voice(transcriber):
    """The demo's substitute (``other_voice`` at the mono defaults) must be about as intelligible
    as the bank's staff voice, or the mono hall measures a damaged recording instead of the
    split: the phase-vocoder shift it replaces (+4 semitones) had Whisper miss half the words."""
    import librosa

    from asr.metrics import cer_counts
    from audio_capture.voice import build_voice_engine
    from windowqa.demo.simulator.options import MONO_SUBSTITUTE_FORMANTS, MONO_SUBSTITUTE_PITCH_ST
    from windowqa.demo import load_bank
    from windowqa.demo.simulator.mixing import Clips, other_voice

    lines = [x for x in load_bank() if x.speaker == "staff"][::30]  # 6 lines, 74 characters
    clips = Clips()
    engine = build_voice_engine("dvector")
    pad = np.zeros(8000, np.float32)
    errors = {"bank": 0, "substitute": 0, "phase vocoder": 0}
    similarity = []
    for line in lines:
        own = clips(line)
        other = other_voice(own, MONO_SUBSTITUTE_PITCH_ST, MONO_SUBSTITUTE_FORMANTS)
        assert abs(len(other) - len(own)) <= 160  # the same tempo: the truth's times still hold
        shifted = librosa.effects.pitch_shift(own, sr=16000, n_steps=4).astype(np.float32)
        for name, audio in (("bank", own), ("substitute", other), ("phase vocoder", shifted)):
            text = transcriber.transcribe_segment(np.concatenate([pad, audio, pad])).text
            errors[name] += cer_counts(text, line.text).errors
        similarity.append(float(engine.embed(other) @ engine.embed(own)))
    chars = sum(len(x.text) for x in lines)
    # measured here: 5, 13 and 35 errors
    assert errors["substitute"] <= errors["bank"] + 0.15 * chars and 2 * errors["substitute"] <= errors["phase vocoder"], errors
    assert max(similarity) < 0.7, similarity  # a voice of its own to the voiceprint encoder
