"""Recording level: how loud a recording's speech is, and the gain that brings it to a working level.

The VAD's decisions depend on level (webrtcvad misses speech that peaks 35 dB under full scale,
and the level checks are in dBFS), while Whisper normalises its input itself. A far-field or
low-gain recording is therefore measured first (its loud frames, streamed) and the VAD works on
it as if it had been recorded at a normal level; the audio Whisper hears is not changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from audio_capture.decode import SAMPLE_RATE, stream_audio

_BIN_DB = 0.5
_LOW_DB = -100.0


def speech_peak_dbfs(blocks: Iterable[np.ndarray], *, frame_ms: int = 30, percentile: float = 99.0) -> float | None:
    """The level of a stream's loud frames: the ``percentile`` of its frame levels (dBFS),
    over all channels, or None when the stream holds no sound at all.

    A histogram of 0.5 dB bins is kept instead of the levels, so a whole day costs no memory.

    Example:
        >>> import numpy as np
        >>> tone = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440).astype(np.float32) * 0.01
        >>> round(speech_peak_dbfs([tone[None, :]]))  # a sine of amplitude 0.01: RMS -43 dBFS
        -43
        >>> speech_peak_dbfs([np.zeros((1, 16000), np.float32)]) is None
        True
    """
    frame = SAMPLE_RATE * frame_ms // 1000
    counts = np.zeros(int(-_LOW_DB / _BIN_DB) + 1, np.int64)
    rest: np.ndarray | None = None
    for block in blocks:
        block = np.atleast_2d(np.asarray(block, np.float32))
        data = block if rest is None else np.concatenate([rest, block], axis=1)
        n = data.shape[1] // frame
        rest = data[:, n * frame :]
        if n == 0:
            continue
        power = np.mean(np.square(data[:, : n * frame].astype(np.float64).reshape(data.shape[0], n, frame)), axis=2)
        levels = 10 * np.log10(power.ravel() + 1e-20)
        levels = levels[levels > _LOW_DB]
        bins = np.clip(((levels - _LOW_DB) / _BIN_DB).astype(int), 0, counts.size - 1)
        counts += np.bincount(bins, minlength=counts.size)
    total = int(counts.sum())
    if total == 0:
        return None
    index = int(np.searchsorted(np.cumsum(counts), percentile / 100 * total))
    return round(_LOW_DB + (index + 0.5) * _BIN_DB, 1)


def recording_gain_db(path: str | Path, *, target_dbfs: float = -20.0, max_gain_db: float = 30.0, block_s: float = 30.0) -> float:
    """Gain (dB, 0 to ``max_gain_db``) that brings the loud frames of a recording to
    ``target_dbfs``; 0 for a recording already that loud or silent. Never attenuates.

    Raises:
        AudioDecodeError: the file cannot be decoded (names the file and why).
    """
    peak = speech_peak_dbfs(stream_audio(path, block_s=block_s))
    if peak is None:
        return 0.0
    return round(float(min(max_gain_db, max(0.0, target_dbfs - peak))), 1)
