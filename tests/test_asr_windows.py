"""Decoding windows without the model: joining, splitting back by word times, skipped stretches.

The decoder is replaced by a small recogniser of synthetic audio: each "word" is a burst of
noise whose loudness names it (0.1 RMS is 请, 0.2 is 坐, ...), so word times and texts are
known exactly and the windows' bookkeeping can be checked to the sample.
"""

from __future__ import annotations

import numpy as np
import pytest

from asr.results import SAMPLE_RATE as SR
from asr.results import SegmentResult, compression_ratio, join_words
from asr.windows import (
    decode_groups,
    join_pieces,
    merged,
    recover_skipped,
    shifted,
    split_window,
    uncovered_stretches,
)
from models.domain import Word

LABELS = {1: "请", 2: "坐", 3: "稍", 4: "等", 5: "OK", 6: "go"}
FRAME = SR // 100  # 10 ms


def burst(label: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Noise at RMS ``label / 10``: the word ``LABELS[label]``."""
    x = np.random.default_rng(seed + label).standard_normal(int(seconds * SR))
    return (x / np.sqrt(np.mean(x**2)) * label / 10).astype(np.float32)


def gap(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def said(*parts) -> np.ndarray:
    """(label, seconds) for a word, a float for a pause."""
    return np.concatenate([gap(p) if isinstance(p, float) else burst(*p) for p in parts])


class Recogniser:
    """Hears the bursts of a piece as words, at their true times; records its calls.

    Args:
        skips_first_of_many: like Whisper on a window of two sentences, writes only the
            words after the first one when the piece holds more than one word.
        deaf_to: a label it misses in a joined window (a piece of more than ``alone_s``)
            but hears in a piece on its own.
        drops_joined: drops a piece that holds more than one word (a joined window that
            failed a filter).
    """

    def __init__(self, *, skips_first_of_many=False, deaf_to=None, drops_joined=False, alone_s=3.0):
        self.skips_first_of_many, self.deaf_to, self.drops_joined, self.alone_s = (
            skips_first_of_many, deaf_to, drops_joined, alone_s
        )
        self.calls: list[list[float]] = []  # per call, each piece's length in seconds

    def __call__(self, pieces, offsets_s):
        self.calls.append([round(p.size / SR, 3) for p in pieces])
        return [self._hear(np.asarray(p), o) for p, o in zip(pieces, offsets_s)]

    def _hear(self, piece, offset_s):
        duration_s = piece.size / SR
        joined = duration_s > self.alone_s
        n = piece.size // FRAME
        rms = np.sqrt(np.mean(piece[: n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2, axis=1))
        words, k = [], 0
        while k < n:
            if rms[k] < 0.01:
                k += 1
                continue
            j = k
            while j < n and rms[j] >= 0.01:
                j += 1
            label = int(round(float(np.mean(rms[k:j])) * 10))
            if not (joined and label == self.deaf_to):
                words.append(Word(LABELS[label], round(offset_s + k / 100, 3), round(offset_s + j / 100, 3), 0.9))
            k = j
        if self.drops_joined and len(words) > 1:
            return SegmentResult("", offset_s, offset_s + duration_s, (), -2.0, 0.1, 0.0, 0.0, dropped="low_logprob")
        if self.skips_first_of_many and len(words) > 1:
            words = words[1:]
        text = join_words(w.text for w in words)
        return SegmentResult(
            text, offset_s, offset_s + duration_s, tuple(words), -0.2, 0.01, compression_ratio(text) if text else 0.0,
            0.0, dropped=None if words else "empty",
        )


# --- joining and splitting --------------------------------------------------------------------


def test_pieces_are_joined_with_silence_and_their_spans_are_known():
    a, b, c = burst(1, 1.0), burst(2, 0.5), burst(3, 2.0)
    joined, spans = join_pieces([a, b, c], 0.4)
    assert spans == [(0.0, 1.0), (1.4, 1.9), (2.3, 4.3)]
    assert joined.size == int(4.3 * SR)
    assert np.array_equal(joined[int(1.4 * SR) : int(1.9 * SR)], b)
    assert not joined[SR : int(1.4 * SR)].any()
    alone, spans = join_pieces([a], 0.4)
    assert np.array_equal(alone, a) and spans == [(0.0, 1.0)]
    too_long, spans = join_pieces([burst(1, 15.0), burst(2, 15.0)], 0.4)
    assert too_long is None and spans[1] == pytest.approx((15.4, 30.4))


def test_words_go_back_to_the_segment_that_holds_their_end():
    pieces = [gap(1.0), gap(1.0), gap(1.0)]
    spans = [(0.0, 1.0), (1.4, 2.4), (2.8, 3.8)]
    words = (
        Word("请", 0.1, 0.9, 0.9),
        Word("OK", 1.1, 1.6, 0.8),  # starts in the pause before the second piece: belongs to it
        Word("go", 1.7, 2.3, 0.7),
    )
    whole = SegmentResult("请OK go", 0.0, 3.8, words, -0.3, 0.02, 1.0, 0.2)
    first, second, third = split_window(whole, pieces, [10.0, 20.0, 30.0], spans)
    assert first.text == "请" and first.words == (Word("请", 10.1, 10.9, 0.9),)
    assert second.text == "OK go"  # a space between two Latin words
    assert second.words == (Word("OK", 20.0, 20.2, 0.8), Word("go", 20.3, 20.9, 0.7))  # clamped into its span
    assert (second.start_s, second.end_s, second.avg_logprob, second.temperature) == (20.0, 21.0, -0.3, 0.2)
    assert third.dropped == "no_words" and third.text == "" and third.words == ()


def test_a_result_is_shifted_to_its_offset():
    result = SegmentResult("请坐", 0.0, 2.0, (Word("请", 0.1, 0.5), Word("坐", 0.6, 1.0)), -0.1, 0.0, 1.0, 0.0)
    moved = shifted(result, 7.25)
    assert (moved.start_s, moved.end_s) == (7.25, 9.25)
    assert [(w.start_s, w.end_s) for w in moved.words] == [(7.35, 7.75), (7.85, 8.25)]
    assert shifted(result, 0.0) is result


def test_groups_are_decoded_as_one_window_and_split_back():
    recogniser = Recogniser()
    group_a = ([said((1, 0.5)), said((2, 0.4), 0.2, (3, 0.3))], [5.0, 8.0])
    group_b = ([said((4, 0.6))], [40.0])
    out = decode_groups([group_a, group_b], recogniser, join_s=0.4)
    assert recogniser.calls == [[1.8, 0.6]]  # both windows in one call, nothing decoded alone
    assert [r.text for r in out[0]] == ["请", "坐稍"]
    assert [(w.text, w.start_s, w.end_s) for w in out[0][1].words] == [("坐", 8.0, 8.4), ("稍", 8.6, 8.9)]
    assert out[1][0].text == "等" and out[1][0].words[0].start_s == 40.0


def test_a_segment_missed_in_its_window_is_decoded_alone():
    recogniser = Recogniser(deaf_to=4)
    pieces = [said((1, 1.0)), said((4, 1.0)), said((2, 1.0))]
    out = decode_groups([(pieces, [0.0, 10.0, 20.0])], recogniser, join_s=0.4)
    assert recogniser.calls == [[3.8], [1.0]]
    assert [r.text for r in out[0]] == ["请", "等", "坐"]
    assert [r.dropped for r in out[0]] == [None, None, None]
    assert out[0][1].words[0].start_s == 10.0


def test_a_dropped_or_overlong_window_is_decoded_segment_by_segment():
    recogniser = Recogniser(drops_joined=True)
    dropped = ([said((1, 1.0)), said((2, 2.0))], [0.0, 5.0])
    overlong = ([said((3, 2.0), 14.0), said((4, 2.0), 13.0)], [100.0, 130.0])
    out = decode_groups([dropped, overlong], recogniser, join_s=0.4)
    assert recogniser.calls == [[3.4], [1.0, 2.0, 16.0, 15.0]]
    assert [[r.text for r in group] for group in out] == [["请", "坐"], ["稍", "等"]]
    with pytest.raises(ValueError, match="one offset per piece"):
        decode_groups([([gap(1.0)], [])], recogniser, join_s=0.4)


# --- stretches the decoder skipped ------------------------------------------------------------


def test_uncovered_stretches_need_length_and_sound():
    audio = said((1, 2.5), 0.5, (2, 1.0), 3.0)  # a sentence, a breath, a word, trailing silence
    assert uncovered_stretches(audio, [(3.0, 4.0)]) == [(0.0, 3.0)]
    assert uncovered_stretches(audio, [(0.0, 2.5), (3.0, 4.0)]) == []  # the 3 s left are silence
    assert uncovered_stretches(audio, [(0.0, 2.5)], min_s=2.0) == [(2.5, 7.0)]
    assert uncovered_stretches(audio, [(0.0, 2.5)], min_s=5.0) == []
    assert uncovered_stretches(audio, []) == []


def test_a_stretch_is_merged_in_place_by_time():
    result = SegmentResult("坐", 0.0, 6.0, (Word("坐", 3.0, 4.0),), -0.2, 0.3, 1.0, 0.0)
    before = SegmentResult("请", 0.0, 3.0, (Word("请", 0.5, 2.5),), -0.8, 0.1, 1.0, 0.4)
    after = SegmentResult("OK", 4.0, 6.0, (Word("OK", 4.5, 5.0),), -0.2, 0.5, 1.0, 0.0)
    first = merged(result, before)
    assert first.text == "请坐" and [w.text for w in first.words] == ["请", "坐"]
    assert first.avg_logprob == pytest.approx(-0.5) and first.no_speech_prob == 0.1 and first.temperature == 0.4
    assert (first.start_s, first.end_s) == (0.0, 6.0)
    assert merged(first, after).text == "请坐OK"
    inside = SegmentResult("稍", 3.2, 3.5, (Word("稍", 3.2, 3.5),), -0.2, 0.3, 1.0, 0.0)
    assert merged(merged(result, before), inside).text == "请坐稍"


def test_a_skipped_first_sentence_is_recovered_and_put_first():
    recogniser = Recogniser(skips_first_of_many=True)
    piece = said((1, 2.5), 0.5, (2, 1.0), 0.5, (3, 1.0))
    offset_s = 60.0
    first_pass = recogniser([piece], [offset_s])
    assert first_pass[0].text == "坐稍"
    results, n_stretches = recover_skipped([piece], [offset_s], first_pass, recogniser, min_s=2.0, rounds=3)
    assert n_stretches == 1
    assert results[0].text == "请坐稍"
    assert [(w.text, w.start_s) for w in results[0].words] == [("请", 60.0), ("坐", 63.0), ("稍", 64.5)]
    assert first_pass[0].text == "坐稍"  # the results given are not changed
    assert recogniser.calls[1] == [3.0]  # the stretch before the first word, alone


def test_recovery_stops_when_nothing_is_left_and_skips_dropped_results():
    recogniser = Recogniser()
    piece = said((1, 1.0), 4.0)
    results = recogniser([piece], [0.0])
    dropped = SegmentResult("", 0.0, 5.0, (), -2.0, 0.9, 0.0, 0.0, dropped="no_speech")
    out, n_stretches = recover_skipped([piece, piece], [0.0, 0.0], results + [dropped], recogniser, min_s=2.0, rounds=3)
    assert n_stretches == 0 and out == results + [dropped]
    assert len(recogniser.calls) == 1


def test_a_last_word_stretched_over_skipped_segments_stays_with_its_own():
    """When the decoder writes only the first segment of a window, the aligner stretches its
    last word over the rest of the window: the word stays in the segment where it starts and
    the others, left without words, are decoded alone."""
    pieces = [said((1, 1.0), 0.5, (2, 0.5)), said((3, 2.0)), said((4, 2.0))]
    _, spans = join_pieces(pieces, 0.4)
    whole = SegmentResult(
        "请坐", 0.0, spans[-1][1], (Word("请", 0.0, 1.0), Word("坐", 1.5, spans[-1][1] - 0.03)), -0.2, 0.01, 1.0, 0.0
    )
    first, second, third = split_window(whole, pieces, [0.0, 10.0, 20.0], spans)
    assert first.text == "请坐" and first.words[-1] == Word("坐", 1.5, 2.0)
    assert second.dropped == third.dropped == "no_words"

    class SkipsAfterFirst(Recogniser):
        def __call__(self, pieces_, offsets_s):
            results = super().__call__(pieces_, offsets_s)
            if len(pieces_) == 1 and pieces_[0].size == int(spans[-1][1] * SR):
                return [whole]
            return results

    recogniser = SkipsAfterFirst()
    out = decode_groups([(pieces, [0.0, 10.0, 20.0])], recogniser, join_s=0.4)
    assert [r.text for r in out[0]] == ["请坐", "稍", "等"]
    assert recogniser.calls[1] == [2.0, 2.0]
