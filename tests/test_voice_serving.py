"""Who is serving, by voice (issue 17): the decisions on similarities alone (no model, fast).

The similarities are those measured on the mono demo hall (seed 22, 20 dB): the bank's staff
members share one synthetic voice (their voiceprints 0.80-0.89 apart), the floater has their
own, and a citizen's voice can be nearer the floater's voiceprint than the staff member's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_capture.speakers import RoleOptions, VoiceSplitOptions
from audio_capture.voice import SAMPLE_RATE, build_voice_engine
from models.domain import Role
from windowqa.speech.voices import HeardVoice, RecordingVoices, ServingOptions, someone_else_serving

STAFF_1001 = HeardVoice({"1001": 0.89, "1002": 0.83, "1003": 0.85, "1004": 0.88, "9001": 0.61}, 3.0)
CITIZEN = HeardVoice({"1001": 0.64, "1002": 0.61, "1003": 0.61, "1004": 0.56, "9001": 0.82}, 1.9)
FLOATER = HeardVoice({"1001": 0.71, "1002": 0.61, "1003": 0.64, "1004": 0.65, "9001": 0.95}, 3.9)


def test_the_rostered_voice_keeps_the_staff_side_when_a_citizen_sounds_like_someone_else():
    # 1001 rostered: the citizen is nearer the floater's voiceprint than 1001's, but the
    # segment's other voice is 1001's own, nearer still; before, the staff side went to the citizen
    assert not someone_else_serving([STAFF_1001, CITIZEN], {"1001"}, ServingOptions())
    assert not someone_else_serving([CITIZEN, None, STAFF_1001], {"1001"}, ServingOptions())


def test_an_unfiled_substitute_is_the_staff_side():
    assert someone_else_serving([FLOATER, CITIZEN], {"1004"}, ServingOptions())
    assert someone_else_serving([FLOATER], {"1004"}, ServingOptions())
    # filed: the floater is on duty, nobody else serves
    assert not someone_else_serving([FLOATER, CITIZEN], {"1004", "9001"}, ServingOptions())


def test_a_long_stereo_utterance_is_embedded_from_its_middle_only():
    """The cost of who is serving on stereo recordings: at most ``max_embed_s`` of each staff
    utterance goes through the encoder, and the utterance counts in full as speech heard."""
    engine = build_voice_engine("dvector")
    speech = sf.read(Path(__file__).parent / "data" / "speech" / "kimi_asr_example.flac", dtype="float32")[0]
    long = np.concatenate([speech, speech])
    prints = {"1001": engine.embed(speech[: 2 * SAMPLE_RATE])}
    options = ServingOptions(max_embed_s=2.0)
    voices = RecordingVoices(engine, prints, {"1001"}, VoiceSplitOptions(), options)
    heard = voices.identify(long)
    lo = (long.size - 2 * SAMPLE_RATE) // 2
    middle = float(prints["1001"] @ engine.embed(long[lo:lo + 2 * SAMPLE_RATE]))
    assert heard.speech_s == long.size / SAMPLE_RATE
    assert abs(heard.similarities["1001"] - middle) < 1e-3
    assert abs(heard.similarities["1001"] - float(prints["1001"] @ engine.embed(long))) > 1e-3  # not all of it


def test_voice_thresholds_come_from_the_settings():
    from models.settings import Settings
    from windowqa.speech.voices import VoiceSetupError, voice_options

    settings = Settings(voice_options={"roles": {"stretch_margin": 0.3}, "serving": {"max_embed_s": 2.4},
                                       "change": {"min_distance": 0.3}, "split": {"hop_s": 0.2}})
    split, serving = voice_options(settings.voice_options)
    assert split.roles.stretch_margin == 0.3 and split.change.min_distance == 0.3 and split.hop_s == 0.2
    assert serving.max_embed_s == 2.4 and serving.min_margin == ServingOptions().min_margin
    assert voice_options(Settings().voice_options) == (VoiceSplitOptions(), ServingOptions())
    with pytest.raises(VoiceSetupError, match="unknown group 'role'"):
        voice_options({"role": {}})
    with pytest.raises(VoiceSetupError, match="unknown field 'stretch_marign'"):
        voice_options({"roles": {"stretch_marign": 0.1}})


class _RecordedWindows:
    """Replays the window embeddings recorded from a demo hall's segments, in order (the
    encoder is not under test here; tests/test_voice.py checks it on real audio)."""

    name, embedding_dim, block_s = "dvector", 256, 1.0

    def __init__(self, data, names):
        self._windows = [(data[f"{n}_starts"] - data[f"{n}_bounds"][0], data[f"{n}_vectors"].astype(np.float32))
                         for n in names]

    def embed_windows(self, samples, window_s, hop_s):
        return self._windows.pop(0)


def _segment(bounds):
    from audio_capture.vad import SpeechSegment

    return SpeechSegment(channel=0, start_s=float(bounds[0]), end_s=float(bounds[1]), voiced_ms=0, level_dbfs=-20.0,
                         floor_dbfs=-60.0)


def test_once_a_substitute_is_heard_serving_the_turns_follow_their_voice():
    """Recorded windows of a mono demo recording with an unfiled substitute (9001 serving where
    1004 is rostered; tests/data/voice/SOURCES.md). The citizen sounds like 1004 (0.77-0.84)
    and the substitute like 9001 (0.96): before, the second segment's roles followed 1004's
    voiceprint, the citizen was staff and two staff lines were the citizen's."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_b02_substitute_windows.npz")
    prints = {k.removeprefix("voiceprint_"): data[k] for k in data if k.startswith("voiceprint_")}
    voices = RecordingVoices(_RecordedWindows(data, ["floater", "turns"]), prints, frozenset({"1004"}),
                             VoiceSplitOptions(), ServingOptions())
    first = voices.split(_segment(data["floater_bounds"]), np.zeros(0, np.float32))
    assert [p.role for p in first] == [Role.STAFF] and first[0].voice.nearest()[0] == "9001"
    assert voices.on_duty() == {"1004", "9001"}  # 4 s of 9001 serving: at least min_speech_s
    turns = voices.split(_segment(data["turns_bounds"]), np.zeros(0, np.float32))
    assert [p.role for p in turns] == [Role.CITIZEN, Role.STAFF, Role.CITIZEN, Role.STAFF, Role.CITIZEN]
    truth = [(11.63, 12.69), (17.08, 18.29), (19.31, 20.24), (24.18, 25.27)]  # end of a line, start of the next
    for part, (end, start) in zip(turns[1:], truth):
        assert end - 0.5 <= part.start_s <= start + 0.5
    # less than min_speech_s of a voice serving changes nobody's duty
    short = RecordingVoices(_RecordedWindows(data, ["floater"]), prints, frozenset({"1004"}), VoiceSplitOptions(),
                            ServingOptions(min_speech_s=5.0))
    short.split(_segment(data["floater_bounds"]), np.zeros(0, np.float32))
    assert short.on_duty() == {"1004"}


def test_a_staff_line_cut_by_a_false_change_stays_the_substitute_serving():
    """Recorded windows of a mono demo recording with an unfiled substitute (9001 serving where
    1004 is rostered; tests/data/voice/SOURCES.md). A false change cut 9001's first line (6.42-10.38 s)
    at 7.85 s (7.70 s when changes were refined): its head is 0.815 from 9001's voiceprint but 0.822 from 1003's, so not clearly 9001's.
    Before, the head was the citizen's, only 2.7 s of 9001 counted (under ``min_speech_s``) and the next
    segment's roles followed 1004's voiceprint, which the citizen resembles more: every line swapped."""
    data = np.load(Path(__file__).parent / "data" / "voice" / "demo_mono_b02_false_change_windows.npz")
    prints = {k.removeprefix("voiceprint_"): data[k].astype(np.float32) for k in data if k.startswith("voiceprint_")}
    voices = RecordingVoices(_RecordedWindows(data, ["floater", "turns"]), prints, frozenset({"1004"}),
                             VoiceSplitOptions(), ServingOptions())
    first = voices.split(_segment(data["floater_bounds"]), np.zeros(0, np.float32))
    assert len(first) == 2 and first[0].end_s == pytest.approx(7.85, abs=0.05)  # the false change stays
    assert [(p.role, p.speaker_key) for p in first] == [(Role.STAFF, "9001")] * 2
    assert voices.on_duty() == {"1004", "9001"}
    turns = voices.split(_segment(data["turns_bounds"]), np.zeros(0, np.float32))
    truth = [(11.32, 13.56, Role.CITIZEN), (14.44, 17.68, Role.STAFF), (18.83, 19.90, Role.CITIZEN),
             (20.83, 24.54, Role.STAFF), (25.46, 27.12, Role.STAFF)]
    for lo, hi, role in truth:  # each true line: the role of the parts that hold most of it
        held = {r: sum(max(0.0, min(p.end_s, hi) - max(p.start_s, lo)) for p in turns if p.role is r) for r in Role}
        assert max(held, key=held.get) is role
    # no clear voice of another staff member: the head of a line is still the citizen's
    strict = RecordingVoices(_RecordedWindows(data, ["floater"]), prints, frozenset({"1004"}),
                             VoiceSplitOptions(roles=RoleOptions(stretch_margin=0.05)), ServingOptions())
    assert [p.role for p in strict.split(_segment(data["floater_bounds"]), np.zeros(0, np.float32))] == \
        [Role.CITIZEN, Role.STAFF]
