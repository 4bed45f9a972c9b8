"""Where phrases sit in an utterance's text: clauses, windows of clauses, quotation marks.

Shared by the phrase matcher and the situation cue finder.
"""

from __future__ import annotations

import re
from typing import Iterable

from nlp.normalize import NormalizedText

_CLAUSE_SPLIT = re.compile(r"[，。！？、；：,.!?;:\s…]+")
_QUOTES = {"“": "”", "「": "」", "『": "』", '"': '"', "‘": "’"}


def quoted(norm: NormalizedText, start: int, end: int) -> bool:
    """Whether a hit lies inside quotation marks of the original text: reported speech
    ("不能说‘有意见找领导去’这种话") is not the speaker's own phrase. (ASR output has no quotes.)"""
    if start >= end:
        return False
    o_start, o_end = norm.span_to_original(start, end)
    text = norm.original
    open_at = -1
    closer = ""
    for k, ch in enumerate(text[:o_start]):
        if closer and ch == closer:
            open_at, closer = -1, ""
        elif not closer and ch in _QUOTES:
            open_at, closer = k, _QUOTES[ch]
    return open_at >= 0 and closer in text[o_end:]


def is_one_clause_wider(outer: tuple[int, int, int], inner: tuple[int, int, int], owners, rows) -> bool:
    """Whether ``outer`` contains ``inner`` and reaches exactly one clause further."""
    _, o_start, o_end = outer
    _, i_start, i_end = inner
    if not (o_start <= i_start and i_end <= o_end) or (o_start, o_end) == (i_start, i_end):
        return False
    # one clause wider: no other window lies strictly between inner and outer
    for r in rows:
        _, s, e = owners[r]
        if (s, e) in ((o_start, o_end), (i_start, i_end)):
            continue
        if s <= i_start and i_end <= e and o_start <= s and e <= o_end:
            return False
    return True


def clause_windows(norm: NormalizedText) -> Iterable[tuple[int, int]]:
    """Spans (normalised chars) of the whole text, each clause and each pair of adjacent clauses."""
    n = len(norm.text)
    if n == 0:
        return []
    # clause breaks: where the original text had punctuation between two kept characters
    original = norm.original
    breaks = [0]
    for k in range(1, n):
        between = original[norm.offsets[k - 1] + 1 : norm.offsets[k]]
        if between and _CLAUSE_SPLIT.search(between):
            breaks.append(k)
    breaks.append(n)
    clauses = [(breaks[i], breaks[i + 1]) for i in range(len(breaks) - 1)]
    spans = {(0, n)}
    if len(clauses) > 1:
        spans.update(clauses)
        spans.update((clauses[i][0], clauses[i + 1][1]) for i in range(len(clauses) - 1))
    return sorted(spans)


__all__ = ["clause_windows", "is_one_clause_wider", "quoted"]
