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


@pytest.mark.parametrize(
    "text",
    [
        "办公电话0537-7212345",  # a landline with its area code: the office's, not a person's
        "请拨打0537 7212345咨询",
        "北京的电话是010-62345678",
        "座机零五三七七二一二三四五",  # spoken
        "您的受理编号是2026030200123，请保存",  # 13 digits, named as a case number
        "受理编号：2026030200123",
        "回执号 2026-0302-00123",
        "流水号幺二三四五六七八九零幺二三",  # spoken
        "业务编号为20260302001234567",  # 17 digits
        "办件编号202603021234567890",  # 18 digits, but no birth date in it: not an ID
        "流水号6222021234567890123",  # 19 digits failing the bank-card checksum
    ],
)
def test_landlines_and_named_case_numbers_stay_readable(text):
    red = redact_pii(text)
    assert red.text == text and red.spans == ()


@pytest.mark.parametrize(
    "text, kind",
    [
        ("受理编号13812345678", "mobile"),  # a mobile stays masked whatever it is called
        ("流水号是 138 1234 5678", "mobile"),
        ("回执号幺三八幺二三四五六七八", "mobile"),
        ("业务编号370830199001011234", "id_card"),  # shaped like an ID, with a birth date
        ("单号37083019900101123X", "id_card"),
        ("流水号6222021234567890128", "bank_card"),  # passes the bank-card (Luhn) checksum
        ("手机0138-1234-5678", "mobile"),  # a mobile dialled with a trunk 0
        ("电话+86 138 1234 5678", "mobile"),
        ("我的号码是幺三八 1234 五六七八", "mobile"),  # spoken and written mixed
        ("三七零八三零 1990 零一零一 一二三X", "id_card"),
        ("一三八一二三四五六七八", "mobile"),
        ("卡号六二二二 零二一二 三四五六 七八九零 一二三", "bank_card"),
        ("电话0537 138 1234 5678", "number"),  # not a landline: too long for one
        ("受理编号2026030200123，13812345678", "number"),  # a mobile run on after a case number
        ("回执号 2026 0302 00123 138 1234 5678", "number"),
    ],
)
def test_personal_numbers_stay_masked_next_to_the_exceptions(text, kind):
    red = redact_pii(text)
    assert [s[0] for s in red.spans] == [kind]
    assert len(red.text) == len(text)
    _, start, end = red.spans[0]
    assert all(c == MASK or c in " -，" for c in red.text[start:end])  # spoken digits included


def test_landline_and_mobile_in_one_sentence():
    red = redact_pii("有事打办公室0537-7212345，或者打我手机13812345678")
    assert [k for k, _, _ in red.spans] == ["mobile"]
    assert "0537-7212345" in red.text and "13812345678" not in red.text
