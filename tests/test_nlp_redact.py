"""Redaction of citizens' ID, mobile and bank card numbers, written or spoken."""

from __future__ import annotations

import pytest

from nlp.redact import MASK, redact_pii


@pytest.mark.parametrize(
    "text, kind",
    [
        ("我的身份证号是370830199001011234", "id_card"),
        ("身份证37083019900101123X", "id_card"),
        ("电话13812345678", "mobile"),
        ("手机号是 138-1234-5678", "mobile"),
        ("幺三八幺二三四五六七八", "mobile"),  # spoken, as Whisper writes it
        ("三七零八三零一九九零零一零一一二三四", "id_card"),
        ("卡号6222 0212 3456 7890 123", "bank_card"),
        ("６２２２０２１２３４５６７８９０", "bank_card"),  # full-width digits
    ],
)
def test_personal_numbers_are_masked(text, kind):
    red = redact_pii(text)
    assert [s[0] for s in red.spans] == [kind]
    assert len(red.text) == len(text)  # spans of rule hits stay valid
    _, start, end = red.spans[0]
    digits = [c for c in red.text[start:end] if c not in " -"]
    assert digits and all(c == MASK for c in digits)
    assert not any(ch.isdigit() for ch in red.text)


@pytest.mark.parametrize("text", ["请到3号窗口办理", "三号窗口", "下午五点半下班", "请交二十元工本费", "2026年11月27日", "编号一二三"])
def test_ordinary_numbers_stay(text):
    assert redact_pii(text).text == text


def test_several_numbers_in_one_transcript():
    red = redact_pii("身份证370830199001011234，手机13812345678，请到3号窗口")
    assert [k for k, _, _ in red.spans] == ["id_card", "mobile"]
    assert red.text.endswith("请到3号窗口")
