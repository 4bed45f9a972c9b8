"""The staff-versus-citizen role classifier for mono audio (nlp/role.py)."""

from __future__ import annotations

import json
import pickle

import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from _store_support import TRANSCRIPTS
from models.domain import Role, Utterance
from nlp.role import RoleClassifier, RoleDataError, assign_roles, build_role_classifier, read_role_lines


@pytest.fixture(scope="module")
def classifier():
    return build_role_classifier()


def test_estimator_contract():
    clf = RoleClassifier(C=2.0)
    assert clf.get_params() == {"ngram_range": (1, 3), "C": 2.0, "sublinear_tf": True}
    assert clone(clf).get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        clf.predict(["您好"])
    X, y = read_role_lines()
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == ["citizen", "staff"]
    assert pickle.loads(pickle.dumps(clf)).predict(["请出示身份证"]).tolist() == clf.predict(["请出示身份证"]).tolist()
    with pytest.raises(ValueError, match="sequence of texts"):
        clf.predict("您好")
    with pytest.raises(ValueError, match="two roles"):
        RoleClassifier().fit(["a", "b"], ["staff", "staff"])


def test_held_out_window_dialogue_is_mostly_right(classifier):
    lines = [json.loads(l) for l in (TRANSCRIPTS / "window-a03-morning.jsonl").read_text(encoding="utf-8").splitlines()]
    training = set(read_role_lines()[0])
    held_out = [l for l in lines if l["text"].rstrip("。？！") not in training]
    predicted = classifier.predict([l["text"] for l in held_out])
    correct = sum(p == l["role"] for p, l in zip(predicted, held_out))
    assert len(held_out) >= 30
    assert correct / len(held_out) >= 0.85, f"{correct}/{len(held_out)}"


def test_assign_roles_keeps_known_roles_and_sets_confidence(classifier):
    utterances = [
        Utterance("您好，请问您要办理什么业务？", Role.UNKNOWN),
        Utterance("我来交一下不动产登记的材料。", Role.UNKNOWN),
        Utterance("好的。", Role.STAFF, role_confidence=1.0),
    ]
    out = assign_roles(utterances, classifier)
    assert [u.role for u in out] == [Role.STAFF, Role.CITIZEN, Role.STAFF]
    assert 0.5 < out[0].role_confidence <= 1.0 and 0.5 < out[1].role_confidence <= 1.0
    assert out[2] is utterances[2]


def test_bad_training_file_names_the_line(tmp_path):
    path = tmp_path / "lines.tsv"
    path.write_text("您好\tstaff\n我想办证\tvisitor\n", encoding="utf-8")
    with pytest.raises(RoleDataError, match=r"lines.tsv:2"):
        read_role_lines(path)
