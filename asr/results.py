"""What decoding a segment gives: its result, the transcriber's counters, and the text helpers both use."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

from models.domain import Word

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class SegmentResult:
    """One decoded segment with the measures the filters used."""

    text: str
    start_s: float
    end_s: float
    words: tuple[Word, ...]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    dropped: str | None = None  # why the segment was dropped, None when kept

    @property
    def confidence(self) -> float:
        return float(math.exp(self.avg_logprob))


@dataclass
class TranscriberStats:
    """Time spent, for real-time factors."""

    audio_s: float = 0.0
    compute_s: float = 0.0
    segments: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    skipped_stretches: int = 0  # stretches the decoder skipped, decoded again (continue_after_s)
    batches: int = 0  # encoder + beam search calls


def compression_ratio(text: str) -> float:
    """gzip compression ratio of ``text`` in UTF-8 (high for a decoding loop)."""
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def join_words(words) -> str:
    """Words back into text: Chinese without spaces, a space between two Latin or digit words.

    Example:
        >>> join_words(["请", "出示", "ID", "card", "谢谢"])
        '请出示ID card谢谢'
    """
    out = ""
    for word in words:
        if out and word and out[-1].isascii() and out[-1].isalnum() and word[0].isascii() and word[0].isalnum():
            out += " "
        out += word
    return out
