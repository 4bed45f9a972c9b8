"""Character error rate as the shared spec defines it (eval-formats.md, speech recognition)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalise_for_cer(text: str) -> str:
    """Traditional to Simplified, full-width to half-width, punctuation and spaces removed;
    Arabic and Chinese numerals are left as written.

    Example:
        >>> normalise_for_cer("我認為，跑步 最重要！ＡＢ12")
        '我认为跑步最重要AB12'
    """
    text = _t2s().convert(text)
    text = unicodedata.normalize("NFKC", text)
    return _DROP.sub("", text)


@dataclass(frozen=True)
class CerCounts:
    """Edit distance against the reference length, for one or many utterances."""

    errors: int
    reference_chars: int

    @property
    def cer(self) -> float:
        return self.errors / self.reference_chars if self.reference_chars else 0.0

    def __add__(self, other: "CerCounts") -> "CerCounts":
        return CerCounts(self.errors + other.errors, self.reference_chars + other.reference_chars)


def cer_counts(hypothesis: str, reference: str) -> CerCounts:
    """Character edits (substitutions, insertions, deletions) after normalisation.

    Example:
        >>> cer_counts("扎自己的脚", "砸自己的脚")
        CerCounts(errors=1, reference_chars=5)
    """
    from rapidfuzz.distance import Levenshtein

    hyp, ref = normalise_for_cer(hypothesis), normalise_for_cer(reference)
    return CerCounts(Levenshtein.distance(hyp, ref), len(ref))
