"""Recording level: how loud a recording's speech is, and the gain that brings it to a working level.

The VAD's decisions depend on level (webrtcvad misses speech that peaks 35 dB under full scale,
and the level checks are in dBFS), while Whisper normalises its input itself. A far-field or
low-gain recording is therefore measured first (its loud frames, streamed) and the VAD works on
it as if it had been recorded at a normal level; the audio Whisper hears is not changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio_capture.decode import SAMPLE_RATE, stream_audio

_BIN_DB = 0.5
_LOW_DB = -100.0


def frame_powers(samples: np.ndarray, frame_n: int) -> np.ndarray:
    """Mean power of each whole frame of (channels, n) audio: shape (channels, frames)."""
    frames = samples.shape[1] // frame_n
    x = samples[:, : frames * frame_n].astype(np.float64).reshape(samples.shape[0], frames, frame_n)
    return np.mean(np.square(x), axis=2)


def _frame_levels(blocks: Iterable[np.ndarray], frame: int) -> Iterator[np.ndarray]:
    """Level (dBFS) of every whole frame of a stream of (channels, n) blocks, a (channels,
    frames) array per block; a frame split between two blocks is counted once."""
    rest: np.ndarray | None = None
    for block in blocks:
        block = np.atleast_2d(np.asarray(block, np.float32))
        data = block if rest is None or rest.shape[0] != block.shape[0] else np.concatenate([rest, block], axis=1)
        n = data.shape[1] // frame
        rest = data[:, n * frame :]
        if n:
            yield 10 * np.log10(frame_powers(data, frame) + 1e-20)


@dataclass(frozen=True)
class RecordingLevels:
    """What one pass over a recording measured.

    Attributes:
        peak_dbfs: level of its loud frames (99th percentile of 30 ms frames, all channels);
            None for a silent recording.
        channel_difference_db: for two or more channels, how far apart the two loudest
            channels get over the loud frames (within 20 dB of ``peak_dbfs``): the 90th
            percentile of their level difference; None for mono. A window's two microphones
            each hear their own speaker 10 dB and more above the other, whenever someone
            speaks (hall noise, the same on both, makes up the other frames); an ordinary
            stereo recording (a broadcast, a meeting recorder) has the same speech in both
            channels, a few dB apart at most.
    """

    peak_dbfs: float | None
    channel_difference_db: float | None


def measure_recording(blocks: Iterable[np.ndarray], *, frame_ms: int = 30, loud_below_db: float = 20.0) -> RecordingLevels:
    """Levels of a stream of (channels, n) blocks in one pass (histograms: a whole day costs
    no memory).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> voice = rng.standard_normal(16000 * 2).astype(np.float32) * 0.1
        >>> tone = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440).astype(np.float32) * 0.01
        >>> round(measure_recording([tone[None, :]]).peak_dbfs)  # a sine of amplitude 0.01: RMS -43 dBFS
        -43
        >>> measure_recording([np.zeros((1, 16000), np.float32)]).peak_dbfs is None
        True
        >>> measure_recording([np.stack([voice, voice * 0.9])]).channel_difference_db  # one source: 0.9 dB apart
        0.8
        >>> two_mics = np.stack([np.concatenate([voice, voice * 0.1]), np.concatenate([voice * 0.1, voice])])
        >>> measure_recording([two_mics]).channel_difference_db
        19.8
    """
    n_bins = int(-_LOW_DB / _BIN_DB) + 1
    levels_hist = np.zeros(n_bins, np.int64)
    # per frame: (loudest channel's level, difference to the second) as a 2-D histogram
    pair_hist = np.zeros((n_bins, n_bins), np.int64)
    channels = 1
    for levels in _frame_levels(blocks, SAMPLE_RATE * frame_ms // 1000):
        channels = levels.shape[0]
        flat = levels.ravel()
        flat = flat[flat > _LOW_DB]
        levels_hist += np.bincount(np.clip(((flat - _LOW_DB) / _BIN_DB).astype(int), 0, n_bins - 1), minlength=n_bins)
        if channels >= 2:
            ordered = np.sort(levels, axis=0)
            top, second = ordered[-1], ordered[-2]
            keep = top > _LOW_DB
            top_bins = np.clip(((top[keep] - _LOW_DB) / _BIN_DB).astype(int), 0, n_bins - 1)
            diff_bins = np.clip(((top[keep] - second[keep]) / _BIN_DB).astype(int), 0, n_bins - 1)
            np.add.at(pair_hist, (top_bins, diff_bins), 1)
    total = int(levels_hist.sum())
    if total == 0:
        return RecordingLevels(None, None)
    index = int(np.searchsorted(np.cumsum(levels_hist), 0.99 * total))
    peak = round(_LOW_DB + (index + 0.5) * _BIN_DB, 1)
    difference = None
    if channels >= 2:
        loud_from = max(0, int((peak - loud_below_db - _LOW_DB) / _BIN_DB))
        diffs = pair_hist[loud_from:].sum(axis=0)
        if diffs.sum():
            upper_bin = int(np.searchsorted(np.cumsum(diffs), 0.9 * diffs.sum()))
            difference = round((upper_bin + 0.5) * _BIN_DB, 1)
    return RecordingLevels(peak, difference)


def gain_to(levels: RecordingLevels, *, target_dbfs: float = -20.0, max_gain_db: float = 30.0) -> float:
    """Gain (dB, 0 to ``max_gain_db``) that brings a recording's loud frames to ``target_dbfs``;
    0 for a recording already that loud, or silent. Never attenuates."""
    if levels.peak_dbfs is None:
        return 0.0
    return round(float(min(max_gain_db, max(0.0, target_dbfs - levels.peak_dbfs))), 1)


def recording_gain_db(path: str | Path, *, target_dbfs: float = -20.0, max_gain_db: float = 30.0, block_s: float = 30.0) -> float:
    """:func:`gain_to` of the recording file at ``path`` (one streamed pass).

    Raises:
        AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    return gain_to(measure_recording(stream_audio(path, block_s=block_s)), target_dbfs=target_dbfs, max_gain_db=max_gain_db)
