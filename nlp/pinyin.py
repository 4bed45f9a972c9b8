"""Toneless pinyin per character, and the regional-accent keys used by the second tier.

One syllable per character, each character read with its most common reading: the same table
converts transcripts and rule wordings, so a homophone written by the ASR (灵导 for 领导)
gives the same syllables as the wording.
"""

from __future__ import annotations

from functools import lru_cache

# Regional confusions (z/zh, c/ch, s/sh, n/l, an/ang, en/eng, in/ing): a second, weaker tier.
_INITIAL_MERGES = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FINAL_MERGES = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=30_000)
def syllable(ch: str) -> str:
    """The toneless pinyin of one character; non-Chinese characters stand for themselves."""
    if not ("\u3400" <= ch <= "\u9fff"):
        return ch
    from pypinyin import Style, pinyin

    reading = pinyin(ch, style=Style.NORMAL, heteronym=False, errors="ignore")
    return reading[0][0] if reading and reading[0] else ch


@lru_cache(maxsize=5_000)
def readings(ch: str) -> frozenset[str]:
    """Every reading of one character with its tone (``为`` → wei2, wei4); the character itself when not Chinese."""
    if not ("\u3400" <= ch <= "\u9fff"):
        return frozenset((ch,))
    from pypinyin import Style, pinyin

    found = pinyin(ch, style=Style.TONE3, heteronym=True, errors="ignore")
    return frozenset(found[0]) if found and found[0] else frozenset((ch,))


def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of each character of an already normalised text."""
    return tuple(syllable(ch) for ch in text)


@lru_cache(maxsize=5_000)
def regional_key(syl: str) -> str:
    """A syllable with regional-accent distinctions merged (``zhang`` → ``zan``)."""
    for a, b in _INITIAL_MERGES:
        if syl.startswith(a):
            syl = b + syl[len(a):]
            break
    for a, b in _FINAL_MERGES:
        if syl.endswith(a):
            syl = syl[: -len(a)] + b
            break
    return syl
