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

from audio_capture.speakers import VoiceSplitOptions
from audio_capture.voice import SAMPLE_RATE, build_voice_engine
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
