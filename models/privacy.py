"""Redaction of citizens' personal numbers in transcripts (pure; shared by nlp and scoring).

ID card numbers (18 characters), mobile numbers (11 digits) and bank card numbers (16–19 digits),
written in Arabic digits or spoken as Chinese digits (幺三八…). Masking keeps the text's length,
so character spans of rule hits stay valid on the redacted text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Spoken digits as Whisper writes them; 幺 is "one" when reading out numbers.
_SPOKEN = {"零": "0", "〇": "0", "洞": "0", "幺": "1", "一": "1", "二": "2", "两": "2", "三": "3", "四": "4",
           "五": "5", "六": "6", "七": "7", "八": "8", "九": "9", "拐": "7", "勾": "9"}
_SEPARATORS = set(" -－—_·.，,、 ")
_ID_CHECK = "10X98765432"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

MASK = "＊"


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


def _kind(digits: str) -> str | None:
    if len(digits) == 18 and digits[:17].isdigit() and (digits[-1].isdigit() or digits[-1] == "X"):
        # a checksum failure is still a personal number said or heard wrongly: mask it too
        return "id_card"
    if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789" and digits.isdigit():
        return "mobile"
    if 16 <= len(digits) <= 19 and digits.isdigit():
        return "bank_card"
    if len(digits) >= 11 and digits.rstrip("X").isdigit() and digits.count("X") <= 1:
        return "number"  # long enough to identify a person: mask, conservatively
    return None


def redact_pii(text: str) -> RedactedText:
    """Mask ID card, mobile and bank card numbers in ``text``.

    >>> redact_pii("电话13812345678").text
    '电话＊＊＊＊＊＊＊＊＊＊＊'
    >>> redact_pii("幺三八幺二三四五六七八").spans
    (('mobile', 0, 11),)
    """
    chars = list(text)
    spans = []
    for start, end, digits in _runs(text):
        kind = _kind(digits)
        if kind is None:
            continue
        for k in range(start, end):
            if _digit(chars[k]) is not None:
                chars[k] = MASK
        spans.append((kind, start, end))
    return RedactedText("".join(chars), tuple(spans))
