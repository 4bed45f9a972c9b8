"""N-best rescoring with a general word-frequency language model.

Whisper base often picks a homophone that is not a word (偏章 for 篇章, 佛地产 for 房地产)
while the right wording is in its own beam. A unigram word model over jieba's general
dictionary (about 350 000 words with frequencies from a large general corpus) prefers
hypotheses made of real, common words. It knows nothing of the rulebook, so it cannot make
the decoder write courtesy phrases that were not spoken: it only re-ranks what the beam heard.
"""

from __future__ import annotations

import logging
import re
import unicodedata

logger = logging.getLogger("asr")

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


class WordFrequencyLM:
    """Unigram word language model on jieba's dictionary, best segmentation by dynamic programming.

    Build it explicitly and pass it to :class:`asr.Transcriber` (its weight is
    ``DecodeOptions.lm_weight``); loading the dictionary takes about a second.

    Args:
        dictionary: a jieba-format dictionary file (``word freq [tag]`` lines); jieba's own
            general dictionary when None.
    """

    def __init__(self, dictionary: str | None = None) -> None:
        import jieba

        # jieba sets its own logger to DEBUG, with a handler on the stderr of import time
        logging.getLogger("jieba").setLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer(dictionary) if dictionary else jieba.Tokenizer()
        self._tokenizer.initialize()
        self.dictionary = dictionary or "jieba:dict.txt"

    def log_prob_per_char(self, text: str) -> float:
        """Log-probability of the best word segmentation of ``text``, per character (0 for no text).

        Example:
            >>> lm = WordFrequencyLM()
            >>> lm.log_prob_per_char("一个篇章的结束") > lm.log_prob_per_char("一个偏章的结束")
            True
        """
        chars = _DROP.sub("", unicodedata.normalize("NFKC", text))
        if not chars:
            return 0.0
        dag = self._tokenizer.get_DAG(chars)
        route: dict[int, tuple[float, int]] = {}
        self._tokenizer.calc(chars, dag, route)
        return route[0][0] / len(chars)
