"""Decoding windows: close segments joined into one window and split back by word times, and
stretches the decoder skipped found and put in place.

Nothing here touches the model: the decoding is passed in as a function
(``Decode``: pieces and their offsets in, one :class:`SegmentResult` per piece out), so all of
it can be checked with synthetic results and word times.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from asr.results import SAMPLE_RATE, SegmentResult, compression_ratio, join_words
from models.domain import Word

Decode = Callable[[list[np.ndarray], list[float]], list[SegmentResult]]
_MAX_WINDOW_S = 30.0  # Whisper's encoder window
_LONGEST_WORD_S = 2.0  # no word (one to four characters) is spoken for longer


# --- joining close segments into one window ---------------------------------------------------


def join_pieces(pieces: list[np.ndarray], join_s: float) -> tuple[np.ndarray | None, list[tuple[float, float]]]:
    """Segments joined with ``join_s`` of digital silence between them.

    Returns:
        (joined audio, (start_s, end_s) of each piece in it); the audio is None when the
        joined window would be longer than 30 s.
    """
    gap = np.zeros(int(join_s * SAMPLE_RATE), np.float32)
    spans, parts, position = [], [], 0
    for k, piece in enumerate(pieces):
        piece = np.asarray(piece, dtype=np.float32).ravel()
        if k:
            parts.append(gap)
            position += gap.size
        spans.append((position / SAMPLE_RATE, (position + piece.size) / SAMPLE_RATE))
        parts.append(piece)
        position += piece.size
    if position / SAMPLE_RATE > _MAX_WINDOW_S:
        return None, spans
    return (np.concatenate(parts) if len(parts) > 1 else parts[0]), spans


def split_window(
    whole: SegmentResult, pieces: list[np.ndarray], offsets_s: list[float], spans: list[tuple[float, float]]
) -> list[SegmentResult]:
    """The words of a joined window back to their segments (``dropped="no_words"`` for a
    segment that got none); each segment keeps the window's measures.

    Args:
        whole: the joined window's result, decoded at offset 0.
        pieces: each segment's audio (for its length).
        offsets_s: where each segment starts in its recording.
        spans: where each segment lies in the window (:func:`join_pieces`).
    """
    words: list[list[Word]] = [[] for _ in pieces]
    for word in whole.words:
        # Whisper's word times tend to start early (a word after a pause is often placed
        # in the pause): a word goes to the segment whose span holds its end, else to the
        # nearest one. A word longer than any spoken word is the aligner stretching the
        # last word over segments the decoder skipped: it goes by its start.
        at = word.end_s - 0.01 if word.end_s - word.start_s <= _LONGEST_WORD_S else word.start_s + 0.01
        k = min(range(len(spans)), key=lambda i: max(spans[i][0] - at, at - spans[i][1], 0.0))
        lo, hi = spans[k]
        shift = offsets_s[k] - lo
        words[k].append(
            Word(
                text=word.text,
                start_s=round(min(max(word.start_s, lo), hi) + shift, 3),
                end_s=round(min(max(word.end_s, lo), hi) + shift, 3),
                probability=word.probability,
            )
        )
    results = []
    for k, piece in enumerate(pieces):
        start_s, end_s = offsets_s[k], offsets_s[k] + np.asarray(piece).size / SAMPLE_RATE
        text = join_words(w.text for w in words[k])
        results.append(
            SegmentResult(
                text, start_s, end_s, tuple(words[k]), whole.avg_logprob, whole.no_speech_prob,
                compression_ratio(text) if text else 0.0, whole.temperature,
                dropped=None if text else "no_words",
            )
        )
    return results


def shifted(result: SegmentResult, offset_s: float) -> SegmentResult:
    """``result`` of a segment decoded at offset 0, moved to ``offset_s``."""
    if not offset_s:
        return result
    words = tuple(
        Word(w.text, round(w.start_s + offset_s, 3), round(w.end_s + offset_s, 3), w.probability) for w in result.words
    )
    return replace(result, start_s=result.start_s + offset_s, end_s=result.end_s + offset_s, words=words)


def decode_groups(
    groups: list[tuple[list[np.ndarray], list[float]]], decode: Decode, *, join_s: float
) -> list[list[SegmentResult]]:
    """Each group of close segments decoded as one joined window (all windows in one call of
    ``decode``), its words split back to the segments.

    A joined window that ``decode`` dropped (of more than one segment) or that is longer than
    30 s is decoded segment by segment instead, and so is a segment that got no words in its
    window (the decoder may skip one); these go to ``decode`` together in a second call.

    Args:
        groups: per group, the 16 kHz mono audio of each segment (in time order) and where
            each starts in its recording.
        decode: decodes pieces at the given offsets, one result per piece.
        join_s: silence between two segments in a joined window.

    Returns:
        Per group, one result per segment.
    """
    windows, spans_of = [], []  # a group's joined audio (None: longer than 30 s)
    for pieces, offsets_s in groups:
        if len(pieces) != len(offsets_s):
            raise ValueError("one offset per piece")
        joined, spans = join_pieces(pieces, join_s)
        spans_of.append(spans)
        windows.append(joined)
    batch = [k for k, w in enumerate(windows) if w is not None]
    decoded = dict(zip(batch, decode([windows[k] for k in batch], [0.0] * len(batch))))
    out: list[list[SegmentResult | None]] = []
    alone: list[tuple[int, int]] = []  # (group, segment) decoded alone
    for g, (pieces, offsets_s) in enumerate(groups):
        whole = decoded.get(g)
        if whole is None or whole.dropped and len(pieces) > 1:
            out.append([None] * len(pieces))
            alone += [(g, j) for j in range(len(pieces))]
            continue
        if len(pieces) == 1:
            out.append([shifted(whole, offsets_s[0])])
            continue
        split = split_window(whole, pieces, offsets_s, spans_of[g])
        for j, result in enumerate(split):
            if result.dropped == "no_words":
                split[j] = None
                alone.append((g, j))
        out.append(split)
    if alone:
        results = decode([groups[g][0][j] for g, j in alone], [groups[g][1][j] for g, j in alone])
        for (g, j), result in zip(alone, results):
            out[g][j] = result
    return out


# --- stretches the decoder skipped ------------------------------------------------------------


def _frame_levels_db(x: np.ndarray, frame: int = SAMPLE_RATE * 30 // 1000) -> np.ndarray:
    n = x.size // frame
    if n == 0:
        return np.zeros(0)
    power = np.mean(np.square(x[: n * frame].astype(np.float64).reshape(n, frame)), axis=1)
    return 10 * np.log10(power + 1e-12)


def uncovered_stretches(
    samples: np.ndarray, word_spans_s: list[tuple[float, float]], *, min_s: float = 2.0, below_db: float = 20.0,
    min_speech_s: float = 0.3,
) -> list[tuple[float, float]]:
    """Stretches of a decoded segment that no word covers but that hold speech-level audio.

    Whisper sometimes skips part of a window: it starts with the second sentence or stops
    after the first. The aligned words then leave that audio uncovered. A stretch counts when
    it lasts at least ``min_s`` (longer than the VAD's hang-over, so the silence after the
    last word is no reason) and has at least ``min_speech_s`` of 30 ms frames within
    ``below_db`` of the segment's loud frames (its 90th percentile level).

    Args:
        samples: the segment's 16 kHz mono audio.
        word_spans_s: (start_s, end_s) of the decoded words, relative to the segment, in order.

    Returns:
        (start_s, end_s) of each such stretch, relative to the segment.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> audio = np.concatenate([rng.standard_normal(16000 * 3) * 0.1, np.zeros(16000 * 3)]).astype(np.float32)
        >>> uncovered_stretches(audio, [(3.1, 3.5)])  # the first 3 s hold sound no word covers
        [(0.0, 3.1)]
        >>> uncovered_stretches(audio, [(0.2, 2.9)])  # what is left is silence
        []
    """
    duration_s = samples.size / SAMPLE_RATE
    levels = _frame_levels_db(samples)
    if levels.size == 0 or not word_spans_s:
        return []
    loud = float(np.percentile(levels, 90))
    edges = [0.0] + [t for span in word_spans_s for t in span] + [duration_s]
    out = []
    for lo_s, hi_s in zip(edges[0::2], edges[1::2]):
        lo_s, hi_s = max(0.0, lo_s), min(duration_s, hi_s)
        if hi_s - lo_s < min_s:
            continue
        inside = levels[int(lo_s / 0.03) : int(hi_s / 0.03)]
        if int(np.sum(inside > loud - below_db)) * 0.03 >= min_speech_s:
            out.append((round(lo_s, 3), round(hi_s, 3)))
    return out


def merged(result: SegmentResult, extra: SegmentResult) -> SegmentResult:
    """A segment's result with the result of a stretch it skipped put in place by time
    (text rebuilt from the words; measures weighted by length of text)."""
    words = tuple(sorted(result.words + extra.words, key=lambda w: w.start_s))
    if extra.words[0].start_s >= result.words[-1].start_s:
        text = join_words([result.text, extra.text])
    elif extra.words[-1].start_s <= result.words[0].start_s:
        text = join_words([extra.text, result.text])
    else:
        text = join_words(w.text for w in words)
    weight = len(result.text) / max(1, len(result.text) + len(extra.text))
    return replace(
        result,
        text=text,
        words=words,
        avg_logprob=weight * result.avg_logprob + (1 - weight) * extra.avg_logprob,
        no_speech_prob=min(result.no_speech_prob, extra.no_speech_prob),
        compression_ratio=compression_ratio(text),
        temperature=max(result.temperature, extra.temperature),
    )


def recover_skipped(
    pieces: list[np.ndarray],
    offsets_s: list[float],
    results: list[SegmentResult],
    decode: Decode,
    *,
    min_s: float,
    rounds: int,
) -> tuple[list[SegmentResult], int]:
    """Audio the decoder skipped in each segment, decoded and put in place (like Whisper's own
    seek to the last timestamp).

    Each round decodes, in one call of ``decode``, every :func:`uncovered_stretches` of at
    least ``min_s`` of the segments that gained words in the round before (all of them at
    first); it stops after ``rounds`` or when nothing is left uncovered.

    Args:
        pieces: each segment's 16 kHz mono audio.
        offsets_s: where each segment starts in its recording (the results' times include it).
        results: each segment's result (with word times); not changed.
        decode: decodes pieces at the given offsets, one result per piece.

    Returns:
        (the results with the recovered words merged in, how many stretches were decoded).
    """
    results = list(results)
    todo = list(range(len(pieces)))
    n_stretches = 0
    for _ in range(rounds):
        stretches, owners = [], []
        for i in todo:
            result = results[i]
            if result.dropped or not result.words:
                continue
            for lo_s, hi_s in uncovered_stretches(
                pieces[i], [(w.start_s - offsets_s[i], w.end_s - offsets_s[i]) for w in result.words], min_s=min_s
            ):
                stretches.append(pieces[i][int(lo_s * SAMPLE_RATE) : int(hi_s * SAMPLE_RATE)])
                owners.append((i, offsets_s[i] + lo_s))
        if not stretches:
            break
        n_stretches += len(stretches)
        todo = []
        for (i, _), extra in zip(owners, decode(stretches, [o for _, o in owners])):
            if extra.dropped or not extra.words:
                continue
            results[i] = merged(results[i], extra)
            if i not in todo:
                todo.append(i)
    return results, n_stretches
