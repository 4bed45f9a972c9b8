"""The real Whisper base model on real speech: text, script, times, filters, no invented phrases."""

from __future__ import annotations

import numpy as np
import pytest

from asr import DecodeOptions, Transcriber, TranscriberError, cer_counts
from asr.filters import find_known_hallucination, find_repetition_loop
from asr.windows import uncovered_stretches
from audio_capture import decode_audio
from models.domain import Role
from windowqa.speech import transcribe_blocks

pytestmark = pytest.mark.slow
SR = 16000
TRADITIONAL_ONLY = set("認為給帶來這個篇結內們時經學國說對來會過還點開關門請問")


@pytest.fixture(scope="module")
def clips(speech_dir) -> dict[str, np.ndarray]:
    names = ("paddle_zh", "kimi_asr_example", "uberi_chinese", "firered_aishell2_IT0011W0001", "wenet_aishell1_BAC009S0724W0121")
    return {n: decode_audio(speech_dir / f"{n}.flac").samples[0] for n in names}


def test_transcribes_real_speech_in_simplified_with_word_times(transcriber, clips):
    utterance = transcriber.transcribe_utterance(
        clips["paddle_zh"], start_s=12.0, role=Role.STAFF, window="W01", channel=0, source="paddle"
    )
    reference = "我认为跑步最重要的就是给我带来了身体健康"
    assert cer_counts(utterance.text, reference).cer <= 0.1
    assert not TRADITIONAL_ONLY & set(utterance.text)  # base writes 認為/給/帶來 here without OpenCC
    assert (utterance.role, utterance.window, utterance.channel, utterance.source) == (Role.STAFF, "W01", 0, "paddle")
    assert utterance.start_s == 12.0 and utterance.end_s == pytest.approx(17.0, abs=0.01)
    assert 0 < utterance.confidence <= 1
    words = utterance.words
    assert "".join(w.text for w in words).replace(" ", "") == utterance.text.replace(" ", "")
    assert all(12.0 <= w.start_s <= w.end_s <= 17.0 for w in words)
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)


def test_results_record_model_and_options(whisper_model_dir):
    options = DecodeOptions(beam_size=2, temperatures=(0.0,))
    t = Transcriber(whisper_model_dir, options=options)
    described = t.describe()
    assert described["options"]["beam_size"] == 2 and described["model"] == "whisper-base"
    assert t.options is options


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(TranscriberError, match="models install") as info:
        Transcriber(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_overlong_segment_is_refused(transcriber):
    with pytest.raises(ValueError, match="30 s"):
        transcriber.transcribe_segment(np.zeros(SR * 31, np.float32))


def test_digital_silence_gives_nothing(transcriber):
    result = transcriber.transcribe_segment(np.zeros(SR * 3, np.float32))
    assert result.dropped and result.text == ""


def _not_speech(clips) -> dict[str, np.ndarray]:
    """Audio in which nobody says any rulebook phrase."""
    rng = np.random.default_rng(7)
    n = SR * 8
    white = (rng.standard_normal(n) * 0.05).astype(np.float32)
    brown = np.cumsum(rng.standard_normal(n)).astype(np.float32)
    brown = (brown - np.convolve(brown, np.ones(400) / 400, mode="same")) * 0.01
    # time-reversed speech: voice-like, unintelligible (a classic babble/masker stimulus)
    reversed_speech = np.concatenate([clips["kimi_asr_example"][::-1], clips["paddle_zh"][::-1]])
    # four talkers at once, like the hall behind a window
    babble = np.zeros(SR * 6, np.float32)
    for k, name in enumerate(("paddle_zh", "kimi_asr_example", "wenet_aishell1_BAC009S0724W0121", "firered_aishell2_IT0011W0001")):
        x = clips[name][: babble.size - k * 4000]
        babble[k * 4000 : k * 4000 + x.size] += x / (np.abs(x).max() + 1e-9) * 0.3
    # other speech: real sentences with no courtesy or forbidden wording
    other = np.concatenate([clips["wenet_aishell1_BAC009S0724W0121"], np.zeros(SR), clips["firered_aishell2_IT0011W0001"]])
    return {"white": white, "brown": brown, "reversed": reversed_speech, "babble": babble, "other": other}


def test_no_rulebook_phrase_is_invented_on_noise_and_other_speech(transcriber, clips, matcher):
    found = {}
    for name, audio in _not_speech(clips).items():
        utterances = list(transcribe_blocks([audio[None, :]], transcriber))
        texts = [u.text for u in utterances]
        hits = [h.rule_id for u in utterances for h in matcher.match(u.text, role="staff")]
        found[name] = (texts, hits)
    assert all(not hits for _, hits in found.values()), found
    for texts, _ in found.values():
        for text in texts:
            assert find_known_hallucination(text) is None and find_repetition_loop(text) is None


def test_known_hallucinations_and_loops_are_recognised():
    assert find_known_hallucination("請不吝點贊 訂閱 轉發 打賞支持明鏡與點點欄目") is None  # traditional: normalised by the transcriber first
    assert find_known_hallucination("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目") == "请不吝点赞"
    assert find_known_hallucination("字幕由Amara.org社区提供") == "字幕由"
    assert find_known_hallucination("您好，请坐，请稍等") is None
    assert find_repetition_loop("我们下一个我们下一个我们下一个我们下一个") == "我们下一个"
    assert find_repetition_loop("谢谢谢谢谢谢谢谢") in {"谢", "谢谢"}
    assert find_repetition_loop("好好，请稍等一下") is None


def test_phrase_scores_rank_the_spoken_wording_first(transcriber, clips):
    """Teacher-forced log-probabilities: the wording that was said explains the audio far
    better than unrelated wordings, token by token."""
    audio = clips["kimi_asr_example"][int(1.7 * SR) : int(7.5 * SR)]
    texts = ["这并不是告别这是一个篇章的结束也是新篇章的开始", "有意见你找领导去", "您好请坐"]
    token_lists = [transcriber.encode_text(t) for t in texts]
    logprobs = transcriber.token_logprobs(audio, token_lists)
    assert [lp.size for lp in logprobs] == [len(tokens) for tokens in token_lists]
    assert all(np.all(lp <= 0) for lp in logprobs)
    spoken, unrelated_a, unrelated_b = (float(np.mean(lp)) for lp in logprobs)
    assert spoken > -0.5
    assert spoken - max(unrelated_a, unrelated_b) > 2.0
    assert transcriber.encode_text("  ") == []
    (empty,) = transcriber.token_logprobs(clips["uberi_chinese"], [[]])
    assert empty.size == 0


def test_close_segments_are_decoded_together_and_split_back(transcriber, clips):
    """Three turns 2 s apart are decoded in one window (the pipeline's default) and come back
    as three utterances, each with its own words, times inside its own span and its own text."""
    names = ("paddle_zh", "kimi_asr_example", "firered_aishell2_IT0011W0001")
    references = ("我认为跑步最重要的就是给我带来了身体健康", "这并不是告别这是一个篇章的结束也是新篇章的开始", "换一首歌")
    pause = np.random.default_rng(3).standard_normal(2 * SR).astype(np.float32) * 10 ** (-60 / 20)
    parts, spans, position = [pause], [], pause.size
    for name in names:
        x = clips[name] / (np.abs(clips[name]).max() + 1e-9) * 0.5
        spans.append((position / SR, (position + x.size) / SR))  # the clip, with its own silences
        parts += [x.astype(np.float32), pause]
        position += x.size + pause.size
    audio = np.concatenate(parts)
    group_sizes = []
    original = transcriber.transcribe_groups

    def spy(groups, **kwargs):
        group_sizes.extend(len(pieces) for pieces, _ in groups)
        return original(groups, **kwargs)

    transcriber.transcribe_groups = spy
    try:
        utterances = list(transcribe_blocks([audio[None, :]], transcriber))
    finally:
        del transcriber.transcribe_groups
    assert group_sizes and max(group_sizes) >= 2
    assert len(utterances) == 3
    for utterance, (start, end), reference in zip(utterances, spans, references):
        assert start - 0.5 <= utterance.start_s < utterance.end_s <= end + 0.5
        assert all(utterance.start_s - 0.01 <= w.start_s <= w.end_s <= utterance.end_s + 0.01 for w in utterance.words)
        assert cer_counts(utterance.text, reference).cer <= 0.35, (utterance.text, reference)


def test_a_batch_decodes_each_segment_as_if_alone(transcriber, clips):
    """Segments of different lengths decoded in one batch give the texts they give alone,
    each with its own offset, and a too-short piece in the batch is dropped by itself."""
    names = ("paddle_zh", "uberi_chinese", "firered_aishell2_IT0011W0001")
    pieces = [clips[name] for name in names] + [np.zeros(SR // 20, np.float32)]
    offsets = [0.0, 100.0, 200.0, 300.0]
    batch = transcriber.transcribe_segments(pieces, offsets)
    alone = [transcriber.transcribe_segment(piece, offset_s=offset) for piece, offset in zip(pieces, offsets)]
    assert [r.dropped for r in batch] == [None, None, None, "too_short"]
    for together, single, offset in zip(batch[:3], alone[:3], offsets):
        assert cer_counts(together.text, single.text).cer <= 0.1, (together.text, single.text)
        assert together.words and all(offset <= w.start_s <= w.end_s <= together.end_s for w in together.words)
    with pytest.raises(ValueError):
        transcriber.transcribe_segments(pieces, offsets[:2])
    assert transcriber.transcribe_groups([]) == []


def test_uncovered_speech_is_found_before_between_and_after_the_words(clips):
    """Real speech with known extents; the words cover only the middle clip."""
    breath = np.zeros(int(2.5 * SR), np.float32)
    a, b, c = clips["paddle_zh"], clips["uberi_chinese"], clips["kimi_asr_example"]
    audio = np.concatenate([a, breath, b, breath, c, breath])
    b_start = (a.size + breath.size) / SR
    b_end = b_start + b.size / SR
    stretches = uncovered_stretches(audio, [(b_start, b_end)])
    assert [round(lo, 1) for lo, _ in stretches] == [0.0, round(b_end, 1)]
    assert stretches[0][1] == pytest.approx(b_start, abs=0.01)
    # words over each clip: nothing is left but the breaths
    spans = [(0.0, a.size / SR), (b_start, b_end), (b_end + breath.size / SR, b_end + (breath.size + c.size) / SR)]
    assert uncovered_stretches(audio, spans) == []


def test_a_skipped_sentence_is_decoded_and_put_in_place(transcriber, clips):
    """Two speakers in one window with a breath between them (Whisper base tends to write only
    the second one here): the result holds both sentences, in order, with word times."""
    pause = (np.random.default_rng(0).standard_normal(2 * SR) * 1e-3).astype(np.float32)
    audio = np.concatenate([clips["wenet_aishell1_BAC009S0724W0121"], pause, clips["paddle_zh"]])
    result = transcriber.transcribe_segment(audio, offset_s=50.0)
    reference = "广州市房地产中介协会分析我认为跑步最重要的就是给我带来了身体健康"
    assert cer_counts(result.text, reference).cer <= 0.25, result.text
    starts = [w.start_s for w in result.words]
    assert starts == sorted(starts) and 50.0 <= starts[0] and result.words[-1].end_s <= result.end_s
    assert uncovered_stretches(audio, [(w.start_s - 50.0, w.end_s - 50.0) for w in result.words]) == []


def test_trailing_silence_is_not_continued(transcriber, clips):
    """The hang-over's silence after the last word is no reason to decode again (nor to invent text)."""
    voice = clips["paddle_zh"]
    padded = np.concatenate([voice, np.zeros(4 * SR, np.float32)])
    assert transcriber.transcribe_segment(padded).text == transcriber.transcribe_segment(voice).text


def test_a_quiet_recording_is_transcribed_like_a_normal_one(transcriber, clips, tmp_path):
    import soundfile as sf

    from windowqa.speech import transcribe_file

    pause = np.zeros(2 * SR, np.float32)
    voice = clips["paddle_zh"] / np.abs(clips["paddle_zh"]).max() * 0.5 * 10 ** (-30 / 20)  # peaks at -36 dBFS
    sf.write(tmp_path / "far.flac", np.concatenate([pause, voice, pause]), SR)
    utterances = transcribe_file(tmp_path / "far.flac", transcriber)
    assert cer_counts("".join(u.text for u in utterances), "我认为跑步最重要的就是给我带来了身体健康").cer <= 0.1
