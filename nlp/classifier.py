"""A text classifier for paraphrases of rule wordings (scikit-learn estimator contract).

Character n-grams catch reworded phrases; toneless-pinyin syllable n-grams make the features
robust to the ASR's homophones. A logistic regression, calibrated, gives one probability per
rule id and ``none``. It is trained on a corpus the project writes and ships
(``nlp/data/phrase_corpus.tsv``: variants and hard negatives) plus reviewed examples, never on an
evaluation set.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from nlp.pinyin import syllables

logger = logging.getLogger(__name__)

CORPUS_PATH = Path(__file__).with_name("data") / "phrase_corpus.tsv"
NONE_LABEL = "none"


_NEGATIONS = frozenset("不没别未无非")


def syllable_analyzer(text: str) -> list[str]:
    """Toneless pinyin unigrams and bigrams of a normalised text, and negation cues.

    Module level, so a fitted classifier pickles. "属于我们窗口" and "不属于我们窗口" share
    nearly all their n-grams; whether and what a negation governs is what tells them apart.
    """
    syl = syllables(text)
    grams = list(syl)
    grams.extend(f"{a}_{b}" for a, b in zip(syl, syl[1:]))
    negated = [k for k, ch in enumerate(text) if ch in _NEGATIONS]
    grams.append("NEG" if negated else "NO_NEG")
    for k in negated:
        grams.extend(f"NEG_{s}" for s in syl[k + 1 : k + 3])
    return grams


class PhraseClassifier(ClassifierMixin, BaseEstimator):
    """Classifies a normalised utterance window as a rule id or ``none``.

    Parameters
    ----------
    char_ngram_range : tuple of int
        Character n-gram sizes.
    C : float
        Inverse regularisation strength of the logistic regression.
    calibration_cv : int
        Folds for sigmoid calibration; 0 (default) keeps the logistic regression's own
        probabilities, which measured as good here at a tenth of the training time.
    class_weight : str or None
        Passed to the logistic regression.

    Attributes
    ----------
    classes_ : ndarray of str
    vectorizer_ : the fitted feature union
    model_ : the fitted (calibrated) classifier
    """

    def __init__(self, char_ngram_range=(1, 3), C=8.0, calibration_cv=0, class_weight="balanced"):
        self.char_ngram_range = char_ngram_range
        self.C = C
        self.calibration_cv = calibration_cv
        self.class_weight = class_weight

    def fit(self, X: Sequence[str], y: Sequence[str]):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion

        X = _as_texts(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} texts but y has {len(y)} labels")
        self.vectorizer_ = FeatureUnion(
            [
                ("chars", TfidfVectorizer(analyzer="char", ngram_range=tuple(self.char_ngram_range), sublinear_tf=True)),
                ("syllables", TfidfVectorizer(analyzer=syllable_analyzer, sublinear_tf=True)),
            ]
        )
        features = self.vectorizer_.fit_transform(X)
        base = LogisticRegression(C=self.C, max_iter=3000, class_weight=self.class_weight)
        _, counts = np.unique(y, return_counts=True)
        if self.calibration_cv and counts.min() >= self.calibration_cv:
            self.model_ = CalibratedClassifierCV(base, cv=self.calibration_cv, method="sigmoid")
        else:
            self.model_ = base
        self.model_.fit(features, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, ["vectorizer_", "model_"])
        return self.model_.predict_proba(self.vectorizer_.transform(_as_texts(X)))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _as_texts(X) -> list[str]:
    if isinstance(X, str):
        raise ValueError("expected a sequence of texts, got one string")
    return [str(x) for x in X]


@dataclass(frozen=True)
class LabelledLine:
    text: str
    label: str


def read_corpus(path: Path = CORPUS_PATH, known_labels: set[str] | None = None) -> list[LabelledLine]:
    """Read a ``text<TAB>label[<TAB>note]`` corpus; bad lines raise with their line number."""
    lines: list[LabelledLine] = []
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header or header[:2] != ["text", "label"]:
            raise ValueError(f"{path}: first line must be the header 'text<TAB>label'")
        for lineno, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2 or not row[0].strip():
                raise ValueError(f"{path}:{lineno}: expected 'text<TAB>label', got {row!r}")
            label = row[1].strip()
            if known_labels is not None and label != NONE_LABEL and label not in known_labels:
                raise ValueError(f"{path}:{lineno}: unknown label {label!r}")
            lines.append(LabelledLine(row[0].strip(), label))
    return lines


def training_data(rulebook, normalizer, extra: Sequence[LabelledLine] = ()) -> tuple[list[str], list[str]]:
    """Normalised texts and labels: the shipped corpus, the rulebook's own wordings, reviewed lines."""
    known = {r.id for r in rulebook.rules}
    lines = read_corpus(known_labels=known) if CORPUS_PATH.exists() else []
    for rule in rulebook.rules:
        for wording in rule.templates:
            lines.append(LabelledLine(wording.replace("××", ""), rule.id))
    lines.extend(extra)
    texts, labels = [], []
    seen = set()
    for line in lines:
        norm = normalizer.normalize(line.text).text
        if not norm or (norm, line.label) in seen:
            continue
        seen.add((norm, line.label))
        texts.append(norm)
        labels.append(line.label)
    return texts, labels


def load_or_train_classifier(rulebook, normalizer, cache_dir: Path | None = None, extra: Sequence[LabelledLine] = ()):
    """Train the classifier, reusing a cached fit of the same corpus, rulebook and library versions."""
    import joblib
    import sklearn

    texts, labels = training_data(rulebook, normalizer, extra)
    digest = hashlib.sha256(
        "\n".join(f"{t}\t{l}" for t, l in zip(texts, labels)).encode()
        + f"|{rulebook.version}|{sklearn.__version__}|{PhraseClassifier().get_params()}".encode()
        + Path(__file__).read_bytes()  # the features are code: a changed analyzer retrains
    ).hexdigest()[:16]
    cached = cache_dir / f"phrase-classifier-{digest}.joblib" if cache_dir else None
    if cached is not None and cached.exists():
        try:
            classifier = joblib.load(cached)
            classifier.version_ = f"shipped-{digest}"
            return classifier
        except Exception as exc:  # a stale or truncated cache file: retrain
            logger.warning("could not load cached classifier %s: %s", cached, exc)
    classifier = PhraseClassifier().fit(texts, labels)
    classifier.version_ = f"shipped-{digest}"  # what hits record: the corpus, rulebook and code it was trained from
    if cached is not None:
        tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.tmp")  # two processes training at once never share it
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(classifier, tmp)
            tmp.replace(cached)
        except OSError as exc:  # a full or read-only cache disk costs a retrain next time, nothing more
            tmp.unlink(missing_ok=True)
            logger.warning("could not cache the classifier in %s: %s", cache_dir, exc)
    return classifier


def save_classifier(classifier: PhraseClassifier, path: Path, metadata: dict) -> None:
    """Write a fitted classifier and its metadata (``path`` + ``.json``) atomically."""
    import json

    import joblib
    import sklearn

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata, sklearn=sklearn.__version__, features=hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16])
    tmp = path.with_suffix(".tmp")
    joblib.dump(classifier, tmp)
    tmp.replace(path)
    meta_tmp = path.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    meta_tmp.replace(path.with_suffix(".json"))


def load_saved_classifier(path: Path, rulebook) -> PhraseClassifier | None:
    """A retrained classifier from ``path``, or None (with a warning) when it does not fit.

    It must have been trained for the same rulebook version, scikit-learn version and feature
    code; otherwise the caller falls back to training on the shipped corpus.
    """
    import json

    import joblib
    import sklearn

    path = Path(path)
    if not path.exists():
        return None
    try:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("%s: no readable metadata (%s); ignoring the retrained classifier", path, exc)
        return None
    expected = {
        "rulebook_version": rulebook.version,
        "sklearn": sklearn.__version__,
        "features": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16],
    }
    stale = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
    if stale:
        logger.warning("%s was trained for %s; run `windowqa nlp retrain` again", path, stale)
        return None
    try:
        classifier = joblib.load(path)
    except Exception as exc:  # a truncated or foreign file
        logger.warning("%s: cannot load (%s); ignoring the retrained classifier", path, exc)
        return None
    classifier.version_ = meta.get("version") or "unversioned"
    return classifier
