"""The phrase classifier follows scikit-learn's estimator contract and learns from its corpus."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from nlp.classifier import CORPUS_PATH, PhraseClassifier, read_corpus


def test_contract_params_and_clone():
    clf = PhraseClassifier(C=2.0)
    assert clf.get_params()["C"] == 2.0
    assert clone(clf).get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        clf.predict(["请稍等"])


def test_fit_returns_self_and_learns(rulebook):
    X = ["有意见找领导去", "你有意见就找领导去吧", "请出示身份证", "这份表格请签字", "急什么急", "没看我正忙着吗", "请稍等"] * 3
    y = ["forbidden.go_to_leader", "forbidden.go_to_leader", "none", "none", "forbidden.impatient", "forbidden.impatient", "none"] * 3
    clf = PhraseClassifier()
    assert clf.fit(X, y) is clf
    assert set(clf.classes_) == set(y)
    proba = clf.predict_proba(["有意见就去找领导", "请出示一下身份证"])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert list(clf.predict(["有意见就去找领导"])) == ["forbidden.go_to_leader"]


def test_rejects_a_single_string():
    with pytest.raises(ValueError):
        PhraseClassifier().fit("有意见找领导去", ["x"])


def test_shipped_corpus_is_valid(rulebook):
    lines = read_corpus(CORPUS_PATH, known_labels={r.id for r in rulebook.rules})
    labels = {line.label for line in lines}
    assert len(lines) >= 500
    assert {r.id for r in rulebook.rules if r.family.value == "forbidden"} <= labels
    assert "none" in labels
    assert len({line.text for line in lines}) == len(lines)


def test_corpus_errors_name_the_line(tmp_path):
    bad = tmp_path / "corpus.tsv"
    bad.write_text("text\tlabel\n请稍等\tcourtesy.please_wait\n有意见找领导去\tforbidden.nope\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"corpus.tsv:3: unknown label"):
        read_corpus(bad, known_labels={"courtesy.please_wait"})
