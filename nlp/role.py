"""Who spoke, from what was said: a small staff-versus-citizen classifier for mono recordings.

Stereo recordings get their roles from the window's channel map; a mono recording has role
``unknown`` after speech recognition, and this classifier decides per utterance from content
(who greets, who asks, who gives instructions), keeping its probability as the role
confidence. Character n-grams need no word segmenter, so the estimator is picklable and
independent of the rest of ``nlp``. The training lines ship as ``nlp/data/role_lines.tsv``
(``text<TAB>role``); training takes well under a second, so the model is fitted when built
instead of shipping a pickle tied to one scikit-learn version.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from models.domain import Role, Utterance

log = logging.getLogger("nlp")

ROLE_LINES = Path(__file__).with_name("data") / "role_lines.tsv"


class RoleDataError(ValueError):
    """A training file that cannot be used; names the file, the line and the reason."""


def _as_texts(X) -> list[str]:
    # Text estimators take a 1-D sequence of strings; anything else is a caller's mistake.
    if isinstance(X, str):
        raise ValueError("expected a sequence of texts, got a single string")
    texts = list(X)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("expected a sequence of str")
    return texts


class RoleClassifier(ClassifierMixin, BaseEstimator):
    """Staff versus citizen from an utterance's text (scikit-learn estimator).

    Parameters
    ----------
    ngram_range : tuple of int, default=(1, 3)
        Character n-gram lengths.
    C : float, default=4.0
        Inverse regularisation strength of the logistic regression.
    sublinear_tf : bool, default=True
        Use 1 + log(tf).

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
        The fitted character n-gram vectoriser.
    model_ : LogisticRegression
        The fitted linear model.
    classes_ : ndarray of str
        The role labels seen in ``fit`` (``"citizen"``, ``"staff"``).

    Examples
    --------
    >>> clf = RoleClassifier().fit(["您好，请问您办理什么业务", "我想办个营业执照"], ["staff", "citizen"])
    >>> [str(c) for c in clf.classes_]
    ['citizen', 'staff']
    """

    def __init__(self, ngram_range=(1, 3), C=4.0, sublinear_tf=True):
        self.ngram_range = ngram_range
        self.C = C
        self.sublinear_tf = sublinear_tf

    def fit(self, X, y):
        """Fit on texts ``X`` and role labels ``y``; returns self."""
        texts = _as_texts(X)
        labels = np.asarray(y)
        if len(texts) != len(labels):
            raise ValueError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        if len(set(labels.tolist())) < 2:
            raise ValueError("need examples of at least two roles")
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.ngram_range), sublinear_tf=self.sublinear_tf)
        features = self.vectorizer_.fit_transform(texts)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000, class_weight="balanced")
        self.model_.fit(features, labels)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, ("vectorizer_", "model_"))
        return self.model_.predict_proba(self.vectorizer_.transform(_as_texts(X)))

    def predict(self, X) -> np.ndarray:
        """The most likely role label per text."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def read_role_lines(path: str | Path = ROLE_LINES) -> tuple[list[str], list[str]]:
    """Read ``text<TAB>role`` lines (``#`` starts a comment line).

    Raises:
        RoleDataError: missing file, or a line without a known role.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoleDataError(f"{path}: training file not found") from None
    texts, roles = [], []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        text, _, role = line.rpartition("\t")
        if role.strip() not in (Role.STAFF.value, Role.CITIZEN.value) or not text.strip():
            raise RoleDataError(f"{path}:{number}: expected text<TAB>staff|citizen, got {line!r}")
        texts.append(text.strip())
        roles.append(role.strip())
    return texts, roles


def build_role_classifier(path: str | Path = ROLE_LINES, **params) -> RoleClassifier:
    """A ``RoleClassifier`` fitted on the shipped (or a site's) training lines."""
    texts, roles = read_role_lines(path)
    clf = RoleClassifier(**params).fit(texts, roles)
    log.debug("role classifier fitted on %d lines from %s", len(texts), path)
    return clf


def assign_roles(utterances: Sequence[Utterance], classifier: RoleClassifier, *, only_unknown: bool = True) -> list[Utterance]:
    """Set ``role`` and ``role_confidence`` from content.

    Args:
        utterances: utterances of a mono recording (role ``unknown``).
        classifier: a fitted ``RoleClassifier``.
        only_unknown: leave utterances whose role is already known (from a channel map) alone.

    Returns:
        New utterances; the confidence is the classifier's probability of the chosen role.
    """
    todo = [i for i, u in enumerate(utterances) if not only_unknown or u.role is Role.UNKNOWN]
    out = list(utterances)
    if not todo:
        return out
    proba = classifier.predict_proba([utterances[i].text for i in todo])
    for i, row in zip(todo, proba):
        best = int(np.argmax(row))
        out[i] = replace(utterances[i], role=Role(str(classifier.classes_[best])), role_confidence=float(row[best]))
    return out


__all__ = ["RoleClassifier", "RoleDataError", "assign_roles", "build_role_classifier", "read_role_lines", "ROLE_LINES"]

