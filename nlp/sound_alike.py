"""Syllables the ASR hears as one another: one sound of a syllable (its initial or its final)
swapped for another of its group in the rulebook's ``[matcher.sound_alike]`` table.

Short wordings (at most ``short_max_syllables``) otherwise match only in full pinyin, so one
misheard sound loses them (你算老几 heard as 你算老气: j/q). This tier lets at most
``max_differing`` syllables of such a wording differ, each by one sound only (never both the
initial and the final), and only for the families the table names.
"""

from __future__ import annotations

from typing import Iterable, Sequence

# longest first, so that zh is not read as z
_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s", "y", "w")


def split_syllable(syl: str) -> tuple[str, str]:
    """A toneless syllable as (initial, final); ("", syl) for one without an initial.

    Example:
        >>> split_syllable("zhang"), split_syllable("an")
        (('zh', 'ang'), ('', 'an'))
    """
    for initial in _INITIALS:
        if syl.startswith(initial) and len(syl) > len(initial):
            return initial, syl[len(initial):]
    return "", syl


def _groups(groups: Iterable[Sequence[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for group in groups:
        for sound in group:
            out[sound] = out.get(sound, frozenset()) | frozenset(group)
    return out


class SoundAlike:
    """Which toneless syllables differ by one sound of a group.

    Args:
        initials: groups of initials heard as one another (``[["j", "q", "x"], ...]``).
        finals: groups of finals (``[["an", "ang"], ...]``).
        max_differing: how many syllables of one wording may differ.
    """

    def __init__(self, initials: Iterable[Sequence[str]], finals: Iterable[Sequence[str]], max_differing: int = 1):
        self._initials = _groups(initials)
        self._finals = _groups(finals)
        self.max_differing = max_differing

    def alike(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are the same syllable or differ by one sound of a group.

        Example:
            >>> SoundAlike([["j", "q", "x"]], []).alike("ji", "qi"), SoundAlike([["j", "q", "x"]], []).alike("ji", "qu")
            (True, False)
        """
        if a == b:
            return True
        (ia, fa), (ib, fb) = split_syllable(a), split_syllable(b)
        if fa == fb:
            return ib in self._initials.get(ia, ())
        if ia == ib:
            return fb in self._finals.get(fa, ())
        return False

    def find(self, wording: Sequence[str], text: Sequence[str]) -> list[tuple[int, int, int]]:
        """Where ``text``'s syllables read as the slot-free ``wording`` with 1 to ``max_differing``
        sound-alike syllables: (start, end, syllables that differ), fewest differences first."""
        n = len(wording)
        out = []
        for start in range(len(text) - n + 1):
            window = text[start:start + n]
            if not all(self.alike(w, t) for w, t in zip(wording, window)):
                continue
            differing = sum(w != t for w, t in zip(wording, window))
            if 0 < differing <= self.max_differing:
                out.append((start, start + n, differing))
        return sorted(out, key=lambda f: (f[2], f[0]))


__all__ = ["SoundAlike", "split_syllable"]
