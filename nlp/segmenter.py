"""Word boundaries from a private jieba tokenizer, so that a match does not cut a word.

jieba's module-level functions share one global tokenizer; windowqa builds its own
``jieba.Tokenizer`` and teaches it the rulebook's wordings.
"""

from __future__ import annotations

import logging
from typing import Iterable

logger = logging.getLogger(__name__)


class WordSegmenter:
    """A private jieba tokenizer that knows the rulebook's words.

    The rulebook's wordings are cut into words by jieba's own dictionary; words it lacks are
    added with a low frequency, so they are kept whole without overriding ordinary text
    (a whole wording as one heavy user word would turn "问别人去年…" into "问别人去|年").

    Args:
        phrases: the rulebook's wordings (clauses, normalised).
        user_word_freq: frequency of the added words; never 0 (jieba's ``add_word(freq=0)``
            writes a module-level force-split set even from a private tokenizer).
    """

    def __init__(self, phrases: Iterable[str] = (), user_word_freq: int = 5):
        import jieba

        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        known = self._tokenizer.FREQ
        words: set[str] = set()
        for phrase in phrases:
            for word in self._tokenizer.lcut(phrase, HMM=True):
                if len(word) >= 2:
                    words.add(word)
        self.user_words = frozenset(words)
        for word in sorted(words):
            if not known.get(word):
                self._tokenizer.add_word(word, freq=max(1, user_word_freq))
        self._cache: dict[str, frozenset[int]] = {}

    def boundaries(self, text: str) -> frozenset[int]:
        """Offsets that no ordinary word straddles (0 and len(text) included).

        Offsets inside one of the rulebook's own words count as boundaries too.
        """
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        cuts = set(range(len(text) + 1))
        for word, start, end in self._tokenizer.tokenize(text, HMM=False):
            if end - start > 1 and word not in self.user_words:
                cuts.difference_update(range(start + 1, end))
        result = frozenset(cuts)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[text] = result
        return result

    def words(self, text: str) -> list[str]:
        return [w for w, _s, _e in self._tokenizer.tokenize(text, HMM=False)]
