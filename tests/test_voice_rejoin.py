"""Staff stretches the voice split cut apart are matched whole again (issue 17).

The utterances are those stored from the mono demo hall (seed 35, 20 dB, window B01 in the
afternoon): the voice split left the first half of the staff line
"这个不是我们窗口的业务，请您拨打公积金窗口电话查询一下" ``unknown`` and the second half staff;
the content gave the first half to staff, and alone it matched 八.1 (推诿: not our window),
which the whole line, a referral by phone, does not.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.domain import Role, Utterance
from nlp.role import build_role_classifier
from windowqa.utterance_stream import HeardUtterance, utterance_stream

SOURCE = "B01_20260302T135100.flac"


@pytest.fixture(scope="module")
def role_classifier():
    return build_role_classifier()


def _heard(text: str, role: Role, start_s: float, end_s: float) -> HeardUtterance:
    audio = np.zeros(int(round((end_s - start_s) * 16000)), np.float32)
    return HeardUtterance(Utterance(text, role, start_s, end_s, channel=0, source=SOURCE), audio)


def _hall_b01() -> list[HeardUtterance]:
    return [
        _heard("喂哪位爱", Role.STAFF, 130.0, 131.8),
        _heard("有什么书", Role.STAFF, 131.8, 133.07),
        _heard("这个不是我们窗口的业务", Role.UNKNOWN, 134.35, 136.75),
        _heard("请您播打工基金窗口电话查询一下", Role.STAFF, 136.75, 140.51),
    ]


def test_a_staff_line_cut_at_an_unknown_stretch_is_matched_whole(matcher, role_classifier):
    out = list(utterance_stream(_hall_b01(), matcher, role_classifier=role_classifier))
    spans = [(u.utterance.start_s, u.utterance.end_s, u.utterance.role) for u in out]
    # the stretches the voice split labelled staff stay as they were (their own line each)
    assert spans == [(130.0, 131.8, Role.STAFF), (131.8, 133.07, Role.STAFF), (134.35, 140.51, Role.STAFF)]
    whole = out[-1]
    assert whole.utterance.text == "这个不是我们窗口的业务 请您播打工基金窗口电话查询一下"
    assert whole.audio is None  # dropped once verified, as for any utterance
    rules = {h.rule_id for h in whole.hits}
    assert "forbidden.not_our_window" not in rules and "phone.redirect" in rules


def test_stretches_are_joined_only_when_they_abut_and_both_are_staff(matcher, role_classifier):
    apart = _hall_b01()
    apart[3] = _heard("请您播打工基金窗口电话查询一下", Role.STAFF, 137.5, 141.0)  # a pause: two lines
    out = list(utterance_stream(apart, matcher, role_classifier=role_classifier))
    assert len(out) == 4
    assert "forbidden.not_our_window" in {h.rule_id for h in out[2].hits}
    # a citizen's stretch next to a staff one stays the citizen's
    mixed = [_heard("我想问一下公积金怎么提取", Role.UNKNOWN, 10.0, 11.5), _heard("请您稍等", Role.STAFF, 11.5, 12.5)]
    roles = [u.utterance.role for u in utterance_stream(mixed, matcher, role_classifier=role_classifier)]
    assert roles == [Role.CITIZEN, Role.STAFF]
