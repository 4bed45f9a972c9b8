"""Hallucination filters: text Whisper invents on silence and noise never reaches the matcher."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise_for_match(text: str) -> str:
    """NFKC (full-width to half-width), punctuation and spaces removed, lower case."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


@lru_cache(maxsize=1)
def known_hallucinations() -> tuple[str, ...]:
    """The shipped list (``asr/data/hallucinations.txt``), normalised."""
    text = (Path(__file__).with_name("data") / "hallucinations.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(normalise_for_match(line) for line in lines if line and not line.startswith("#"))


def find_known_hallucination(text: str, patterns: tuple[str, ...] | None = None) -> str | None:
    """The first known hallucination contained in ``text``, or None.

    Example:
        >>> find_known_hallucination("字幕由Amara.org社区提供")
        '字幕由'
        >>> find_known_hallucination("您好，请坐") is None
        True
    """
    norm = normalise_for_match(text)
    for pattern in known_hallucinations() if patterns is None else patterns:
        if pattern and pattern in norm:
            return pattern
    return None


def find_repetition_loop(text: str, *, min_repeats: int = 4, max_unit_chars: int = 8) -> str | None:
    """A unit of 2..``max_unit_chars`` characters repeated ``min_repeats`` or more times in a row
    (or a single character repeated twice as often): the signature of a decoding loop.

    Example:
        >>> find_repetition_loop("我们我们我们我们走吧")
        '我们'
        >>> find_repetition_loop("好的好的，请稍等") is None
        True
    """
    norm = normalise_for_match(text)
    if re.search(r"(.)\1{%d,}" % (2 * min_repeats - 1), norm):
        return re.search(r"(.)\1{%d,}" % (2 * min_repeats - 1), norm).group(1)
    for unit in range(2, max_unit_chars + 1):
        match = re.search(r"(.{%d})\1{%d,}" % (unit, min_repeats - 1), norm)
        if match:
            return match.group(1)
    return None
