"""Cues of the 七.1 situations in what either side says (a citizen at the wrong window, ...).

A situation rule's ``[rules.detect]`` lists cue wordings per side (``models.rulebook.SituationCues``).
:class:`SituationCueFinder` finds them in one utterance like the matcher finds the citizen-abuse
wordings: exactly on the normalised text, or by toneless-pinyin alignment at the matcher's
thresholds (homophones count; a cue of at most ``short_max_syllables`` syllables only in full, and
no regional merges). Quoted speech does not count. Each finding is a ``RuleHit`` with the
situation's id (``situation.<name>``), family ``situation`` and ``evidence["strong"]`` 1.0 or 0.0;
``scoring.situations`` turns an interaction's cues into the phrase check. A staff cue is looked
for only in staff (and unknown-role) speech, a citizen cue only in citizen speech.

Telephone (七.2, ``[telephone] answer_cue_by_sound``): a staff line whose first word is one
character with a reading of a one-character answer cue (syllable and tone) gets a ``TELEPHONE_ANSWER_CUE`` finding: Whisper writes
the 喂 of a call as 为 (为对，这位群众…). The character must stand as a word of its own (not 为了,
委托书) and the word after it must not be one of ``answer_cue_not_before`` (为您办好了), unless the
line goes on as words to the caller (``answer_cue_to_caller``: 为您说的是… is 喂，您说的是…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.domain import TELEPHONE_ANSWER_CUE, MatchMethod, Role, RuleFamily, RuleHit, Utterance
from models.rulebook import SLOT, Rulebook
from nlp.align import Template, align, make_template
from nlp.clauses import quoted
from nlp.normalize import NormalizedText, TextNormalizer
from nlp.pinyin import readings, regional_key, syllables



@dataclass(frozen=True)
class _Cue:
    situation_id: str
    strong: bool
    template: Template
    exact: re.Pattern


class SituationCueFinder:
    """Finds the situation cues of a rulebook in utterances.

    Args:
        rulebook: the rules with ``detect`` tables.
        normalizer: the matcher's text normaliser (OpenCC, fillers).
        threshold: the alignment score a cue of ``n`` fixed syllables must reach (the matcher's
            ``MatcherOptions.threshold``).
        max_slot_syllables: how much a ×× in a cue absorbs.
        segmenter: the matcher's word segmenter (``nlp.segmenter``); without it no answer cue is read by sound.
    """

    def __init__(self, rulebook: Rulebook, normalizer: TextNormalizer, threshold, max_slot_syllables: int = 12, segmenter=None):
        self.rulebook = rulebook
        self.segmenter = segmenter
        self.normalizer = normalizer
        self.threshold = threshold
        self.max_slot_syllables = max_slot_syllables
        self._cues: dict[str, list[_Cue]] = {"staff": [], "citizen": []}
        for rule in rulebook.situational_rules:
            for side in self._cues:
                for wording, strong in rule.detect.cues(side):
                    cue = self._compile(rule.situation_id, wording, strong)
                    if cue is not None:
                        self._cues[side].append(cue)
        self._answer = self._answer_words()

    def _answer_words(self) -> tuple[list[str], frozenset[str], tuple[str, ...]] | None:
        """The rulebook's answer cues, the words they must not stand before and the words to a caller, normalised once."""
        tel = self.rulebook.telephone
        if tel is None or not tel.answer_cue_by_sound:
            return None
        norm = lambda w: self.normalizer.normalize(w, drop_fillers=False).text  # noqa: E731
        return ([norm(c) for c in tel.answer_cues], frozenset(norm(w) for w in tel.answer_cue_not_before),
                tuple(w for w in map(norm, tel.answer_cue_to_caller) if w))

    def _compile(self, situation_id: str, wording: str, strong: bool) -> _Cue | None:
        parts: list[tuple[str, ...] | None] = []
        regex: list[str] = []
        for i, piece in enumerate(wording.split(SLOT)):
            if i > 0:
                parts.append(None)
                regex.append(f".{{1,{self.max_slot_syllables}}}")
            norm = self.normalizer.normalize(piece, drop_fillers=False).text
            if norm:
                parts.append(syllables(norm))
                regex.append(re.escape(norm))
        template = make_template(situation_id, wording, parts)
        if template.fixed_syllables == 0:
            return None
        return _Cue(situation_id, strong, template, re.compile("".join(regex)))

    def cues(self, utterance: Utterance) -> list[RuleHit]:
        """The situation cues in one utterance: at most one per situation (a strong one first)."""
        if not utterance.text.strip():
            return []
        side = "citizen" if utterance.role is Role.CITIZEN else "staff"
        norm = self.normalizer.normalize(utterance.text)
        syl = syllables(norm.text)
        reg = tuple(regional_key(s) for s in syl)
        best: dict[str, tuple[bool, float, int, int, MatchMethod]] = {}
        for cue in self._cues[side]:
            found = self._find(cue, norm, syl, reg)
            if found is None or quoted(norm, found[1], found[2]):
                continue
            key = (cue.strong, found[0])
            old = best.get(cue.situation_id)
            if old is None or key > (old[0], old[1]):
                best[cue.situation_id] = (cue.strong, *found)
        hits = [] if side == "citizen" else self._answer_cue(norm)
        for situation_id, (strong, score, start, end, method) in sorted(best.items()):
            o_start, o_end = norm.span_to_original(start, end)
            hits.append(RuleHit(situation_id, RuleFamily.SITUATION, score, o_start, o_end, method, self.rulebook.version,
                                {"strong": 1.0 if strong else 0.0}))
        return hits

    def _answer_cue(self, norm: NormalizedText) -> list[RuleHit]:
        if self._answer is None or self.segmenter is None or not norm.text:
            return []
        cues, not_before, to_caller = self._answer
        if not any(len(cue) == 1 and readings(cue) & readings(norm.text[0]) for cue in cues):  # same syllable and tone
            return []
        if 1 not in self.segmenter.boundaries(norm.text):  # 为了, 委托书: the character is part of a word
            return []
        words = self.segmenter.words(norm.text[1:])
        if words and words[0] in not_before and not norm.text[1:].startswith(to_caller):
            return []
        start, end = norm.span_to_original(0, 1)
        return [RuleHit(TELEPHONE_ANSWER_CUE, RuleFamily.SITUATION, 1.0, start, end, MatchMethod.PINYIN, self.rulebook.version, {"strong": 1.0})]

    def _find(self, cue: _Cue, norm: NormalizedText, syl: tuple[str, ...], reg: tuple[str, ...]) -> tuple[float, int, int, MatchMethod] | None:
        m = cue.exact.search(norm.text)
        if m:
            return 1.0, m.start(), m.end(), MatchMethod.EXACT
        threshold = self.threshold(cue.template.fixed_syllables)
        max_cost = (1.0 - threshold) * cue.template.fixed_syllables + 1e-9
        al = align(cue.template, syl, reg, max_slot=self.max_slot_syllables, regional_cost=1.0, max_cost=max_cost)
        if al is None or al.used_regional or al.score < threshold:
            return None
        return al.score, al.start, al.end, MatchMethod.PINYIN


__all__ = ["SituationCueFinder"]
