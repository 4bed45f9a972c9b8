"""webrtcvad segmentation on real speech: padding, hang-over, streaming, options."""

from __future__ import annotations

import numpy as np
import pytest

from audio_capture import StreamingVad, VadOptions, decode_audio, detect_speech

SR = 16000


@pytest.fixture(scope="module")
def clips(speech_dir) -> dict[str, np.ndarray]:
    return {name: decode_audio(speech_dir / f"{name}.flac").samples[0] for name in ("paddle_zh", "kimi_asr_example", "uberi_chinese")}


def _timeline(clips, pause_s: float = 3.0):
    """paddle, pause, uberi, pause, kimi (which has its own silent lead-in) with known offsets."""
    silence = np.zeros(int(pause_s * SR), np.float32)
    parts, offsets, t = [], [], 0.0
    for name in ("paddle_zh", "uberi_chinese", "kimi_asr_example"):
        parts += [silence, clips[name]]
        t += pause_s
        offsets.append((name, t, t + clips[name].size / SR))
        t += clips[name].size / SR
    parts.append(silence)
    return np.concatenate(parts), offsets


def test_segments_cover_each_clip_once(clips):
    audio, offsets = _timeline(clips)
    segments = detect_speech(audio)
    assert len(segments) == 3
    for seg, (name, start, end) in zip(segments, offsets):
        assert start - 0.25 <= seg.start_s and seg.end_s <= end + 0.25, (name, seg)  # padding may reach 0.2 s into the pauses
        assert seg.duration_s > 0.5
    # kimi's speech starts about 1.9 s into the clip: the pre-roll keeps its soft first syllables
    kimi = segments[2]
    assert kimi.start_s == pytest.approx(offsets[2][1] + 1.8, abs=0.25)


def test_options_come_back_with_the_segments(clips):
    options = VadOptions(aggressiveness=3, hangover_ms=300, padding_ms=100)
    segments = detect_speech(clips["kimi_asr_example"], options)
    assert segments and all(s.options is options for s in segments)
    # a short hang-over splits the sentence at its pause; the default keeps it whole
    assert len(segments) == 2
    assert len(detect_speech(clips["kimi_asr_example"])) == 1


def test_padding_widens_segments(clips):
    narrow = detect_speech(clips["paddle_zh"], VadOptions(padding_ms=0))
    wide = detect_speech(clips["paddle_zh"], VadOptions(padding_ms=300))
    assert wide[0].start_s <= narrow[0].start_s and wide[-1].end_s >= narrow[-1].end_s + 0.2


def test_streaming_in_odd_blocks_gives_the_same_segments(clips):
    audio, _ = _timeline(clips)
    whole = detect_speech(audio)
    vad = StreamingVad()
    streamed = []
    for i in range(0, audio.size, 1237):  # 77 ms blocks, not a multiple of the 30 ms frame
        streamed += vad.feed(audio[i : i + 1237])
    streamed += vad.flush()
    assert streamed == whole


def test_silence_and_faint_hiss_give_no_segments():
    rng = np.random.default_rng(0)
    assert detect_speech(np.zeros(SR * 5, np.float32)) == []
    hiss = (rng.standard_normal(SR * 5) * 10 ** (-70 / 20)).astype(np.float32)
    assert detect_speech(hiss) == []


def test_long_speech_is_cut_at_max_length(clips):
    long = np.concatenate([clips["paddle_zh"]] * 4)  # 20 s without a long pause
    segments = detect_speech(long, VadOptions(max_speech_s=6.0))
    assert len(segments) >= 3
    assert all(s.duration_s <= 6.0 + 0.3 for s in segments)


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError, match="frame_ms"):
        VadOptions(frame_ms=25)
    with pytest.raises(ValueError, match="aggressiveness"):
        VadOptions(aggressiveness=5)


def test_long_speech_is_cut_in_a_pause_not_in_a_word(clips):
    """Continuous speech (a meeting, a broadcast) with 0.35 s breaths, shorter than the
    hang-over: a segment reaching max_speech_s is cut in a breath, and the next one starts there."""
    rng = np.random.default_rng(6)
    names = ["paddle_zh", "kimi_asr_example", "uberi_chinese"] * 4
    parts = []
    for name in names:
        x = clips[name] / (np.abs(clips[name]).max() + 1e-9) * 0.5
        # each clip's own leading and trailing silence is trimmed, so only the breaths are pauses
        loud = np.flatnonzero(np.abs(x) > 0.02)
        x = x[loud[0] : loud[-1] + 1]
        parts.append(x.astype(np.float32))
        parts.append((rng.standard_normal(int(0.35 * SR)) * 10 ** (-60 / 20)).astype(np.float32))
    audio = np.concatenate(parts)
    options = VadOptions(max_speech_s=12.0)
    segments = detect_speech(audio, options)
    assert all(s.duration_s <= 12.0 + 0.3 for s in segments)
    cuts = [a.end_s for a, b in zip(segments, segments[1:]) if abs(a.end_s - b.start_s) < 1e-6]
    assert len(cuts) >= 3
    frame = int(0.03 * SR)
    levels = [10 * np.log10(np.mean(audio[i : i + frame] ** 2) + 1e-12) for i in range(0, audio.size - frame, frame)]
    speech_level = float(np.median(levels))
    for cut in cuts:
        # a breath between the clips or a pause inside one: quiet, not a syllable
        around = audio[int((cut - 0.03) * SR) : int((cut + 0.03) * SR)]
        assert 10 * np.log10(np.mean(around**2) + 1e-12) < speech_level - 15, cut
    # streamed in odd blocks, the same cuts
    vad = StreamingVad(options)
    streamed = []
    for i in range(0, audio.size, 1237):
        streamed += vad.feed(audio[i : i + 1237])
    assert streamed + vad.flush() == segments


def test_a_quiet_recording_is_segmented_like_a_normal_one(clips, tmp_path):
    """A far-field or low-gain recording (speech peaking 36 dB under full scale) is measured
    first and its VAD runs on it raised to a normal level; unraised, webrtcvad hears nothing."""
    import soundfile as sf

    from audio_capture import recording_gain_db
    from windowqa.speech import PipelineOptions, for_recording

    audio, _ = _timeline(clips)
    normal = audio / np.abs(audio).max() * 0.5  # peaks at -6 dBFS
    quiet = normal * 10 ** (-30 / 20)
    sf.write(tmp_path / "normal.flac", normal, SR)
    sf.write(tmp_path / "quiet.flac", quiet, SR)
    assert recording_gain_db(tmp_path / "normal.flac") < 3.0
    gain = recording_gain_db(tmp_path / "quiet.flac")
    assert 25.0 <= gain <= 30.0
    reference = detect_speech(normal)
    raised = detect_speech(quiet, for_recording(tmp_path / "quiet.flac", PipelineOptions()).vad)
    assert len(raised) == len(reference) == 3
    for a, b in zip(raised, reference):
        assert abs(a.start_s - b.start_s) < 0.15 and abs(a.end_s - b.end_s) < 0.15
    assert len(detect_speech(quiet)) < 3  # the recorded level alone loses speech
    assert for_recording(tmp_path / "quiet.flac", PipelineOptions(level_target_dbfs=None)).vad.gain_db == 0.0
