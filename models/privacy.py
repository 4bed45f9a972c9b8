"""Redaction of citizens' personal numbers in transcripts (pure; shared by nlp and scoring).

ID card numbers (18 characters), mobile numbers (11 digits) and bank card numbers (16–19 digits),
written in Arabic digits or spoken as Chinese digits (幺三八…). Masking keeps the text's length,
so character spans of rule hits stay valid on the redacted text.

Two kinds of long numbers stay readable, because staff read them out to citizens all day and
masking them made transcripts useless: landlines with an area code (0537-7212345: an office, not a
person) and numbers named as a case or receipt number (受理编号…, see
:attr:`RedactOptions.case_number_labels`). A mobile, an ID card number with a birth date in it
and a bank card number (Luhn checksum) are masked whatever they are called.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Spoken digits as Whisper writes them; 幺 is "one" when reading out numbers.
_SPOKEN = {"零": "0", "〇": "0", "洞": "0", "幺": "1", "一": "1", "二": "2", "两": "2", "三": "3", "四": "4",
           "五": "5", "六": "6", "七": "7", "八": "8", "九": "9", "拐": "7", "勾": "9"}
_SEPARATORS = set(" -－—_·.，,、 ")
_ID_CHECK = "10X98765432"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

MASK = "＊"


@dataclass(frozen=True)
class RedactOptions:
    """What stays readable.

    Attributes:
        keep_landlines: leave landlines with an area code (0 + 2–3 digits + 7–8 digits) readable.
        case_number_labels: words that name the number right after them as a case/receipt number.
        label_fillers: what may stand between such a word and its number (是, 为, a colon...).
    """

    keep_landlines: bool = True
    case_number_labels: tuple[str, ...] = field(default=(
        "受理编号", "受理号", "回执编号", "回执号", "流水号", "业务编号", "业务号", "办件编号", "办件号",
        "申请编号", "申请号", "案件编号", "案卷号", "预约号", "排队号", "订单号", "单号", "编号",
    ))
    label_fillers: str = " 　:：是为#＃"


@dataclass(frozen=True)
class RedactedText:
    """Text with personal numbers masked; ``spans`` lists (kind, start, end) of each."""

    text: str
    spans: tuple[tuple[str, int, int], ...]


def _digit(ch: str) -> str | None:
    ch = unicodedata.normalize("NFKC", ch)
    if ch.isdigit() and ch.isascii():
        return ch
    if ch in "xX":
        return "X"
    return _SPOKEN.get(ch)


def _runs(text: str):
    """Maximal runs of digit characters (separators allowed inside): (start, end, digits)."""
    i, n = 0, len(text)
    while i < n:
        if _digit(text[i]) is None or text[i] in "xX":
            i += 1
            continue
        start, digits, j, last = i, [], i, i
        while j < n:
            d = _digit(text[j])
            if d is not None:
                digits.append(d)
                last = j
            elif text[j] not in _SEPARATORS:
                break
            j += 1
        yield start, last + 1, "".join(digits)
        i = last + 1


def _valid_id(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17]


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _has_birth_date(number: str) -> bool:
    # An ID card number carries the holder's birth date (YYYYMMDD) at characters 7-14.
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def _is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789" and digits.isdigit()


def _is_landline(digits: str) -> bool:
    # 0 + area code (10, 2x or three digits) + a 7-8 digit local number; 00 is an international
    # prefix and 01 + [3-9] a mobile dialled with a trunk 0.
    return 10 <= len(digits) <= 12 and digits.isdigit() and digits[0] == "0" and digits[1] != "0" and not (
        digits[1] == "1" and digits[2] != "0")


def _kind(digits: str) -> str | None:
    if len(digits) == 18 and digits[:17].isdigit() and (digits[-1].isdigit() or digits[-1] == "X"):
        # a checksum failure is still a personal number said or heard wrongly: mask it too
        return "id_card"
    for prefix in ("", "0", "86", "0086"):  # as written, with a trunk 0 or a country code
        if digits.startswith(prefix) and _is_mobile(digits[len(prefix):]):
            return "mobile"
    if 16 <= len(digits) <= 19 and digits.isdigit():
        return "bank_card"
    if len(digits) >= 11 and digits.rstrip("X").isdigit() and digits.count("X") <= 1:
        return "number"  # long enough to identify a person: mask, conservatively
    return None


def _personal(digits: str) -> bool:
    """A mobile, an ID card number with a birth date in it, or a bank card number (Luhn)."""
    kind = _kind(digits)
    if kind == "id_card":
        return _has_birth_date(digits)
    if kind == "bank_card":
        return _luhn(digits)
    return kind == "mobile"


def _hides_personal(text: str, start: int, end: int) -> bool:
    """Whether a run, or any stretch of its digit groups, is a personal number.

    Separators (spaces, commas) join numbers into one run: "受理编号2026030200123，13812345678" is
    one run whose second group is a mobile.
    """
    groups, current = [], []
    for ch in text[start:end]:
        d = _digit(ch)
        if d is not None:
            current.append(d)
        elif current:
            groups.append("".join(current))
            current = []
    groups.append("".join(current))
    for i in range(len(groups)):
        joined = ""
        for group in groups[i:]:
            joined += group
            if len(joined) > 19:
                break
            if _personal(joined):
                return True
    return False


def _named_as_case_number(text: str, start: int, options: RedactOptions) -> bool:
    before = text[max(0, start - 16):start].rstrip(options.label_fillers)
    return before.endswith(options.case_number_labels)


def redact_pii(text: str, options: RedactOptions | None = None) -> RedactedText:
    """Mask ID card, mobile and bank card numbers in ``text``.

    Args:
        options: what stays readable (default :class:`RedactOptions`).

    >>> redact_pii("电话13812345678").text
    '电话＊＊＊＊＊＊＊＊＊＊＊'
    >>> redact_pii("幺三八幺二三四五六七八").spans
    (('mobile', 0, 11),)
    >>> redact_pii("办公电话0537-7212345，受理编号2026030200123").spans
    ()
    """
    options = options or RedactOptions()
    chars = list(text)
    spans = []
    for start, end, digits in _runs(text):
        kind = _kind(digits)
        if kind is None or (options.keep_landlines and _is_landline(digits)):
            continue
        if _named_as_case_number(text, start, options) and not _hides_personal(text, start, end):
            continue
        for k in range(start, end):
            if _digit(chars[k]) is not None:
                chars[k] = MASK
        spans.append((kind, start, end))
    return RedactedText("".join(chars), tuple(spans))
