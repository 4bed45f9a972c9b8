"""Text normalisation for matching, keeping a map back to the original characters.

ASR output and typed text differ in script (Traditional/Simplified), width, punctuation, digits
and fillers. Matching runs on the normalised form; every normalised character remembers the
offset of the original character it came from, so a hit's span points into the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

_DIGITS = dict(zip("0123456789", "零一二三四五六七八九"))
# Characters the ASR swaps both ways (您/你): compare them as one.
_EQUIVALENT = {"您": "你"}


@dataclass(frozen=True)
class NormalizedText:
    """A normalised string and, per character, the index of its source character."""

    original: str
    text: str
    offsets: tuple[int, ...]

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the normalised text to the original text."""
        if start >= end or not self.offsets:
            return (0, 0)
        return (self.offsets[start], self.offsets[end - 1] + 1)


def _is_kept(ch: str) -> bool:
    cat = unicodedata.category(ch)
    # letters and numbers only: punctuation, symbols, spaces and marks are dropped
    return cat[0] in ("L", "N") and ch != "×"


class TextNormalizer:
    """Traditional→Simplified, full→half width, digits→Chinese numerals, no punctuation or fillers.

    Args:
        fillers: filler words to drop (嗯, 啊, 那个 ...), from the rulebook.
        converter: an ``opencc.OpenCC('t2s')`` instance; built here when None.
        merge_equivalents: compare 您 and 你 as one character.
        folds: characters the converter keeps because they are Simplified too, to the character
            meant in speech (著 -> 着), from the rulebook.
        fold_keeps: words in which a folded character stays (著名, 显著).
    """

    def __init__(self, fillers: Iterable[str] = (), converter=None, merge_equivalents: bool = True,
                 folds: Mapping[str, str] | None = None, fold_keeps: Iterable[str] = ()):
        if converter is None:
            import opencc

            converter = opencc.OpenCC("t2s")
        self._converter = converter
        self.fillers = tuple(sorted({f for f in fillers if f}, key=len, reverse=True))
        self._filler_re = re.compile("|".join(map(re.escape, self.fillers))) if self.fillers else None
        self.merge_equivalents = merge_equivalents
        self.folds = dict(folds or {})
        self.fold_keeps = tuple(sorted({w for w in fold_keeps if w}, key=len, reverse=True))
        self._cache: dict[str, NormalizedText] = {}

    @classmethod
    def for_rulebook(cls, rulebook, converter=None) -> "TextNormalizer":
        """The normaliser a rulebook's ``[matcher]`` section describes (fillers, character folds)."""
        section = rulebook.matcher
        return cls(fillers=section.fillers, converter=converter, folds=section.char_folds,
                   fold_keeps=section.char_fold_keeps)

    def to_simplified(self, text: str) -> str:
        """Traditional to Simplified, keeping the length when the converter allows it."""
        return self._converter.convert(text)

    def normalize(self, text: str, drop_fillers: bool = True) -> NormalizedText:
        key = text if drop_fillers else "\0" + text
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        simplified = self._converter.convert(text)
        if len(simplified) != len(text):  # a rare phrase-level conversion: fall back per char
            simplified = "".join(self._converter.convert(ch) or ch for ch in text)
            if len(simplified) != len(text):
                simplified = text
        simplified = self._folded(simplified)
        chars: list[str] = []
        offsets: list[int] = []
        for i, ch in enumerate(simplified):
            for out in _char_forms(ch):
                chars.append(self._fold(out))
                offsets.append(i)
        norm = "".join(chars)
        if drop_fillers and self._filler_re is not None:
            keep = [True] * len(norm)
            for m in self._filler_re.finditer(norm):
                for j in range(m.start(), m.end()):
                    keep[j] = False
            if not all(keep):
                norm = "".join(c for c, k in zip(norm, keep) if k)
                offsets = [o for o, k in zip(offsets, keep) if k]
        result = NormalizedText(text, norm, tuple(offsets))
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = result
        return result

    def _folded(self, text: str) -> str:
        """``folds`` applied outside the ``fold_keeps`` words; the length stays."""
        if not self.folds or not any(ch in self.folds for ch in text):
            return text
        kept = [False] * len(text)
        for word in self.fold_keeps:
            start = text.find(word)
            while start >= 0:
                kept[start:start + len(word)] = [True] * len(word)
                start = text.find(word, start + 1)
        return "".join(ch if k else self.folds.get(ch, ch) for ch, k in zip(text, kept))

    def _fold(self, ch: str) -> str:
        if self.merge_equivalents:
            return _EQUIVALENT.get(ch, ch)
        return ch


@lru_cache(maxsize=20_000)
def _char_forms(ch: str) -> tuple[str, ...]:
    """The normalised characters one source character becomes (possibly none)."""
    out: list[str] = []
    for c in unicodedata.normalize("NFKC", ch):
        if not _is_kept(c):
            continue
        c = c.lower()
        out.append(_DIGITS.get(c, c))
    return tuple(out)
