"""Builds a ready :class:`PhraseMatcher` from a rulebook: normaliser, tokenizer, classifier."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from models.rulebook import SLOT, Rulebook, load_rulebook
from nlp.matcher import MatcherOptions, PhraseMatcher
from nlp.normalize import TextNormalizer
from nlp.segmenter import WordSegmenter

logger = logging.getLogger(__name__)
_CLAUSES = re.compile(r"[，,。；;！!？?、\s]+")


def build_matcher(
    rulebook: Rulebook | None = None,
    options: MatcherOptions | None = None,
    classifier=None,
    with_classifier: bool = True,
    cache_dir: Path | None = None,
) -> PhraseMatcher:
    """Build the matcher and its engines explicitly.

    Args:
        rulebook: the rules; the shipped rulebook when None.
        options: matcher options; from the rulebook when None.
        classifier: a fitted PhraseClassifier; when None and ``with_classifier``, one is trained
            on the shipped corpus (or loaded from ``cache_dir`` when trained there before).
        with_classifier: False skips the classifier layer.
        cache_dir: where a trained classifier is kept between runs (None: no cache).
    """
    rulebook = rulebook or load_rulebook()
    normalizer = TextNormalizer.for_rulebook(rulebook)
    # the rule wordings' clauses, normalised like the text they are looked for in
    clauses = [c for r in rulebook.rules for w in r.templates for c in _CLAUSES.split(w.replace(SLOT, "，"))]
    words = {normalizer.normalize(c, drop_fillers=False).text for c in clauses}
    segmenter = WordSegmenter(phrases=sorted(w for w in words if len(w) >= 2))
    if classifier is None and with_classifier:
        from nlp.classifier import load_or_train_classifier

        classifier = load_or_train_classifier(rulebook, normalizer, cache_dir=cache_dir)
    return PhraseMatcher(rulebook, normalizer, segmenter, classifier, options)
