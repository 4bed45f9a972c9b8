"""Channel roles, crosstalk and the hall-floor gate on real speech mixed into two microphones."""

from __future__ import annotations

import numpy as np
import pytest

from audio_capture import (
    ChannelMap,
    GateOptions,
    VadOptions,
    decode_audio,
    detect_speech,
    gate_segment,
    gate_stretches,
    own_stretches,
)
from models.domain import Role

SR = 16000


def _db(x: float) -> float:
    return 10 ** (x / 20)


@pytest.fixture(scope="module")
def window_recording(speech_dir):
    """Staff (paddle) speaks at 1 s into mic 0, the citizen (wenet) at 8 s into mic 1; each
    microphone also picks up the other person 18 dB down, 3 ms later, over a -60 dBFS hall hiss."""
    staff = decode_audio(speech_dir / "paddle_zh.flac").samples[0]
    citizen = decode_audio(speech_dir / "wenet_aishell1_BAC009S0724W0121.flac").samples[0]
    n = SR * 14
    direct = np.zeros((2, n), np.float32)
    direct[0, SR : SR + staff.size] = staff / np.abs(staff).max() * 0.5
    direct[1, 8 * SR : 8 * SR + citizen.size] = citizen / np.abs(citizen).max() * 0.5
    delay = int(0.003 * SR)
    bleed = np.zeros_like(direct)
    bleed[0, delay:] = direct[1, :-delay] * _db(-18)
    bleed[1, delay:] = direct[0, :-delay] * _db(-18)
    rng = np.random.default_rng(1)
    hiss = rng.standard_normal((2, n)).astype(np.float32) * _db(-60)
    return direct + bleed + hiss


def _kept(recording, options=None):
    kept, dropped = [], []
    for channel in range(recording.shape[0]):
        for seg in detect_speech(recording[channel], channel=channel):
            span = recording[:, int(seg.start_s * SR) : int(seg.end_s * SR)]
            decision = gate_segment(seg, span, options)
            (kept if decision.keep else dropped).append((seg, decision))
    return kept, dropped


def test_each_utterance_stays_on_the_loudest_channel(window_recording):
    kept, dropped = _kept(window_recording)
    assert [(s.channel, round(s.start_s)) for s, _ in kept] == [(0, 1), (1, 8)]
    # the bleed was heard by the VAD on the other microphone and gated as crosstalk
    assert dropped and all("crosstalk" in d.reason for _, d in dropped)
    assert all(d.own_dbfs < d.other_dbfs for _, d in dropped)


def test_distant_speech_near_the_hall_floor_is_gated(speech_dir):
    voice = decode_audio(speech_dir / "kimi_asr_example.flac").samples[0]
    rng = np.random.default_rng(2)
    murmur = rng.standard_normal(voice.size + 3 * SR).astype(np.float32) * _db(-45)
    near = murmur.copy()
    near[SR : SR + voice.size] += voice / np.sqrt(np.mean(voice**2)) * _db(-20)  # 25 dB over the hall
    far = murmur.copy()
    far[SR : SR + voice.size] += voice / np.sqrt(np.mean(voice**2)) * _db(-46)  # a voice across the hall, under the murmur
    near_kept, _ = _kept(near[None])
    far_kept, far_dropped = _kept(far[None])
    assert near_kept
    assert not far_kept and far_dropped
    assert all("hall floor" in d.reason or "quiet" in d.reason for _, d in far_dropped)


def test_gate_options_are_kept_with_the_decision(window_recording):
    options = GateOptions(crosstalk_margin_db=40.0)
    kept, dropped = _kept(window_recording, options)
    assert not kept  # no microphone is 40 dB louder than the other
    assert all(d.options is options for _, d in dropped)


def test_channel_map_roles():
    default = ChannelMap()
    assert default.role_for(0, 2) is Role.STAFF and default.role_for(1, 2) is Role.CITIZEN
    assert default.role_for(0, 1) is Role.UNKNOWN  # mono: the scoring stage decides
    swapped = ChannelMap.parse("citizen, staff", window="W03")
    assert swapped.roles == (Role.CITIZEN, Role.STAFF) and swapped.window == "W03"
    with pytest.raises(ValueError, match="unknown role 'clerk'.*staff"):
        ChannelMap.parse("clerk,citizen")



def test_a_floor_measured_on_a_few_frames_does_not_gate_the_speaker(data_dir):
    """A staff line at 10 dB over babble, with 0.3-0.8 s of babble before it (mix_eval.py,
    seed 0). The VAD calls nearly every frame voice; the three frames it did not became "the
    floor", 4 dB under the speaker, and the line was gated as hall noise. A floor is only
    reported after a second of background."""
    clip = decode_audio(data_dir / "phrases_audio" / "floor" / "s_long_wait_08_seed0.opus").samples[0]
    segments = detect_speech(clip)
    assert segments and all(s.floor_dbfs == -90.0 for s in segments)
    decisions = [gate_segment(s, clip[None, int(s.start_s * SR) : int(s.end_s * SR)]) for s in segments]
    assert any(d.keep for d in decisions), [d.reason for d in decisions]
    # with the old estimate (any number of background frames) the same line is gated
    old = detect_speech(clip, VadOptions(min_floor_ms=0))
    assert not any(gate_segment(s, clip[None, int(s.start_s * SR) : int(s.end_s * SR)]).keep for s in old)


def test_the_floor_is_reported_after_a_second_of_background(speech_dir):
    voice = decode_audio(speech_dir / "uberi_chinese.flac").samples[0]
    hiss = np.random.default_rng(4).standard_normal(3 * SR + voice.size).astype(np.float32) * _db(-50)
    late = hiss.copy()
    late[2 * SR : 2 * SR + voice.size] += voice / np.abs(voice).max() * 0.5
    (segment,) = detect_speech(late)[:1]
    assert -56.0 < segment.floor_dbfs < -44.0
    assert gate_segment(segment, late[None, int(segment.start_s * SR) : int(segment.end_s * SR)]).keep


@pytest.fixture(scope="module")
def turn_in_babble(speech_dir):
    """The staff member (paddle) speaks at 1 s; 0.3 s after the line ends the citizen (wenet)
    answers. Each microphone hears the other person 12 dB down and independent hall babble
    (other real speech, low-passed) 20 dB under its own speaker, so the staff microphone's VAD
    stays open across the change of speaker."""
    staff = decode_audio(speech_dir / "paddle_zh.flac").samples[0]
    citizen = decode_audio(speech_dir / "wenet_aishell1_BAC009S0724W0121.flac").samples[0]
    babble_src = [decode_audio(speech_dir / f"{n}.flac").samples[0] for n in ("kimi_asr_example", "uberi_chinese")]
    staff, citizen = (x / np.sqrt(np.mean(x**2)) * _db(-20) for x in (staff, citizen))
    staff_span = (1.0, 1.0 + staff.size / SR)
    citizen_span = (staff_span[1] + 0.3, staff_span[1] + 0.3 + citizen.size / SR)
    # where each person really speaks: the clean clip's voiced extent (the files end in silence)
    spoken = []
    for clip, (start, _) in ((staff, staff_span), (citizen, citizen_span)):
        segments = detect_speech(clip.astype(np.float32), VadOptions(padding_ms=0, hangover_ms=300, preroll_ms=0))
        spoken.append((start + segments[0].start_s, start + segments[-1].end_s))
    n = int((citizen_span[1] + 1.5) * SR)
    direct = np.zeros((2, n), np.float32)
    direct[0, SR : SR + staff.size] = staff
    lo = int(citizen_span[0] * SR)
    direct[1, lo : lo + citizen.size] = citizen
    mix = direct + direct[::-1] * _db(-12)
    rng = np.random.default_rng(5)
    for channel in range(2):
        babble = np.zeros(n, np.float32)
        for src in babble_src:
            start = int(rng.integers(0, max(1, src.size - n))) if src.size > n else 0
            piece = np.resize(src[start:], n)
            babble += np.roll(piece, int(rng.integers(0, n)))
        babble = np.convolve(babble, np.ones(5) / 5, mode="same")  # distance takes the highs
        mix[channel] += (babble / np.sqrt(np.mean(babble**2)) * _db(-40)).astype(np.float32)
    return mix.astype(np.float32), spoken[0], spoken[1]


def test_a_segment_holding_the_other_sides_turn_keeps_only_its_own_stretch(turn_in_babble):
    mix, (staff_start, staff_end), (citizen_start, citizen_end) = turn_in_babble
    staff_segments = detect_speech(mix[0], channel=0)
    # the premise: one VAD segment on the staff microphone runs into the citizen's turn
    assert any(s.start_s < staff_end and s.end_s > citizen_start + 1.0 for s in staff_segments)
    kept = {0: [], 1: []}
    for channel in range(2):
        for seg in detect_speech(mix[channel], channel=channel):
            span = mix[:, int(seg.start_s * SR) : int(seg.end_s * SR)]
            kept[channel] += [s for s, d in gate_stretches(seg, span) if d.keep]
    # each person's line stays whole on their own channel and holds nothing of the other's
    assert len(kept[0]) == 1 and len(kept[1]) == 1
    staff_kept, citizen_kept = kept[0][0], kept[1][0]
    assert staff_kept.start_s <= staff_start and staff_kept.end_s >= staff_end - 0.2
    assert staff_kept.end_s <= citizen_start + 0.2
    assert citizen_kept.start_s <= citizen_start and citizen_kept.end_s >= citizen_end - 0.2
    assert citizen_kept.start_s >= staff_end - 0.2


def test_whole_segment_comes_back_unsplit_when_its_channel_dominates(window_recording):
    staff_segment = next(s for s in detect_speech(window_recording[0], channel=0) if s.start_s < 2)
    span = window_recording[:, int(staff_segment.start_s * SR) : int(staff_segment.end_s * SR)]
    ((segment, decision),) = gate_stretches(staff_segment, span)
    assert segment is staff_segment and decision.keep
    assert own_stretches(staff_segment, span[:1]) == [(staff_segment.start_s, staff_segment.end_s)]  # mono: whole


def test_both_lines_of_a_turn_in_babble_are_transcribed_on_their_own_channels(turn_in_babble, transcriber):
    """End to end through the pipeline: with a per-segment decision both lines were lost
    (each microphone's one long segment was 0.6 dB from the other's)."""
    from asr import cer_counts
    from windowqa.speech import transcribe_blocks

    mix, _, _ = turn_in_babble
    utterances = list(transcribe_blocks([mix], transcriber, n_channels=2))
    by_role = {role: "".join(u.text for u in utterances if u.role is role) for role in (Role.STAFF, Role.CITIZEN)}
    assert cer_counts(by_role[Role.STAFF], "我认为跑步最重要的就是给我带来了身体健康").cer <= 0.2, by_role
    assert cer_counts(by_role[Role.CITIZEN], "广州市房地产中介协会分析").cer <= 0.35, by_role  # hard in babble


def test_two_microphones_are_told_from_one_source_in_both_channels(window_recording, turn_in_babble, speech_dir):
    """A window's microphones each hear their own speaker far above the other; an ordinary
    stereo recording (a broadcast, a meeting recorder) has the same speech in both channels."""
    from audio_capture.level import measure_recording

    assert measure_recording([window_recording]).channel_difference_db > 10
    assert measure_recording([turn_in_babble[0]]).channel_difference_db > 10
    voice = decode_audio(speech_dir / "kimi_asr_example.flac").samples[0]
    delayed = np.concatenate([np.zeros(8, np.float32), voice[:-8]])  # a spaced pair: 0.5 ms later, 2 dB down
    stereo = np.stack([voice, delayed * _db(-2)])
    assert measure_recording([stereo]).channel_difference_db < 4
    assert measure_recording([voice[None, :]]).channel_difference_db is None  # mono


def test_a_stereo_recording_of_one_source_is_transcribed_as_mono(speech_dir, transcriber, tmp_path):
    """As two microphones, each channel's speech would be gated as the other's crosstalk."""
    import soundfile as sf

    from asr import cer_counts
    from windowqa.speech import PipelineOptions, transcribe_file

    voice = decode_audio(speech_dir / "paddle_zh.flac").samples[0]
    voice = np.concatenate([np.zeros(SR, np.float32), voice, np.zeros(SR, np.float32)])
    sf.write(tmp_path / "broadcast.flac", np.stack([voice, voice * _db(-1)], axis=1), SR)
    (utterance,) = transcribe_file(tmp_path / "broadcast.flac", transcriber)
    assert utterance.role is Role.UNKNOWN and utterance.channel == 0
    assert cer_counts(utterance.text, "我认为跑步最重要的就是给我带来了身体健康").cer <= 0.1
    # read as a window's two microphones, nothing is left
    assert transcribe_file(tmp_path / "broadcast.flac", transcriber, options=PipelineOptions(common_source_db=0.0)) == []
