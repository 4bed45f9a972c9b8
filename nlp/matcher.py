"""The phrase matcher: which prescribed and which forbidden phrases an utterance contains.

Layers, cheapest first: exact template match on normalised text; toneless-pinyin alignment
(homophones, dropped or inserted characters); the same with regional-accent merges as a weaker
tier; a text classifier for paraphrases of forbidden phrases. A forbidden hit is cancelled when
the utterance also says what the rule's ``exempt`` wordings say (guiding the citizen to the right
window is not a push-off), and a hit lying inside a longer hit of another rule gives way to it.
Only staff speech produces hits.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from models.domain import MatchMethod, Role, RuleFamily, RuleHit, Utterance
from models.rulebook import SLOT, Rulebook, SoundAlike as SoundAlikeTable
from nlp.align import Alignment, Template, align, make_template
from nlp.clauses import clause_windows, is_one_clause_wider, quoted
from nlp.normalize import NormalizedText, TextNormalizer
from nlp.pinyin import regional_key, syllables
from nlp.segmenter import WordSegmenter
from nlp.situations import SituationCueFinder
from nlp.sound_alike import SoundAlike

logger = logging.getLogger(__name__)

_LEADING_SLOT, _TRAILING_SLOT = -1, -2  # a ×× at the start / end of a wording (outside any alignment)


@dataclass(frozen=True)
class MatcherOptions:
    """How the matcher decides; defaults come from the rulebook's ``[matcher]`` table.

    Scores are ``1 - alignment cost / fixed syllables`` of a template.
    """

    min_score_long: float = 0.78
    min_score_medium: float = 0.85
    long_min_syllables: int = 8
    short_max_syllables: int = 4
    regional_substitution_cost: float = 0.5
    regional_min_score: float = 0.85
    max_slot_syllables: int = 12
    classifier_min_probability: float = 0.6
    classifier_context_min_probability: float = 0.4
    classifier_families: tuple[RuleFamily, ...] = (RuleFamily.FORBIDDEN, RuleFamily.COURTESY, RuleFamily.PHONE)
    classifier_min_chars: int = 6  # shorter windows: only an exact (pinyin) wording counts
    use_pinyin: bool = True
    use_regional: bool = True
    use_classifier: bool = True
    check_word_boundaries: bool = True
    weight_distinctive_syllables: bool = True  # errors on a rule's own words cost more
    near_miss_margin: float = 0.25  # how far under its threshold a near miss may be
    staff_roles: tuple[Role, ...] = (Role.STAFF, Role.UNKNOWN)
    sound_alike: SoundAlikeTable | None = None  # short wordings of these families: sound-alike syllables

    @classmethod
    def from_rulebook(cls, rulebook: Rulebook, **overrides) -> "MatcherOptions":
        t = rulebook.matcher
        values = dict(
            min_score_long=t.min_score_long,
            min_score_medium=t.min_score_medium,
            long_min_syllables=t.long_min_syllables,
            short_max_syllables=t.short_max_syllables,
            regional_substitution_cost=t.regional_substitution_cost,
            regional_min_score=t.regional_min_score,
            max_slot_syllables=t.max_slot_syllables,
            classifier_min_probability=t.classifier_min_probability,
            classifier_context_min_probability=t.classifier_context_min_probability,
            classifier_families=tuple(RuleFamily(f) for f in t.classifier_families),
            classifier_min_chars=t.classifier_min_chars,
            sound_alike=t.sound_alike,
        )
        values.update(overrides)
        return cls(**values)

    def threshold(self, fixed_syllables: int) -> float:
        """The score a template of this many fixed syllables must reach."""
        if fixed_syllables <= self.short_max_syllables:
            return 1.0
        if fixed_syllables < self.long_min_syllables:
            return self.min_score_medium
        return self.min_score_long


@dataclass(frozen=True)
class NearMiss:
    """A rule whose best alignment came close to, but under, its threshold.

    Candidates for verification against the audio (``asr``); spans in original characters.

    ``slot_spans`` has one ``(start, end)`` per ×× of ``template``, in order: the text the best
    alignment gave that slot (the filler, e.g. 社保 in 请到社保窗口办理), empty (``start == end``)
    where the slot absorbed nothing. A ×× at the very start or end of a wording lies outside the
    alignment (it would absorb nothing in a semi-global alignment) and always gets an empty span
    at the edge of the match (``(start, start)`` or ``(end, end)``). Two ×× with only punctuation
    between them are one slot and share its span. Empty for a wording without slots.
    """

    rule_id: str
    template: str
    score: float
    threshold: float
    start: int
    end: int
    slot_spans: tuple[tuple[int, int], ...] = ()


@dataclass
class _Prepared:
    norm: NormalizedText
    syl: tuple[str, ...]
    reg: tuple[str, ...]
    reg_set: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class _Candidate:
    rule_id: str
    score: float
    start: int  # normalised-text span
    end: int
    method: MatchMethod
    template: str
    threshold: float


class PhraseMatcher:
    """Finds rule hits in utterances.

    Build it with :func:`build_matcher`; all engines are passed in.

    Args:
        rulebook: the rules and their wordings.
        normalizer: text normalisation (OpenCC inside).
        segmenter: a private jieba tokenizer for word boundaries.
        classifier: a fitted :class:`nlp.classifier.PhraseClassifier`, or None to skip that layer.
        options: thresholds and switches; from the rulebook when None.
    """

    def __init__(
        self,
        rulebook: Rulebook,
        normalizer: TextNormalizer,
        segmenter: WordSegmenter | None = None,
        classifier=None,
        options: MatcherOptions | None = None,
    ):
        self.rulebook = rulebook
        self.normalizer = normalizer
        self.segmenter = segmenter
        self.classifier = classifier
        self.options = options or MatcherOptions.from_rulebook(rulebook)
        self._families = {r.id: r.family for r in rulebook.rules}
        self.templates: list[Template] = []
        self._slot_layouts: list[tuple[int, ...]] = []  # per template, see _slot_layout
        self._exact: dict[int, re.Pattern] = {}
        self._exempt: dict[str, list[tuple[Template, re.Pattern]]] = defaultdict(list)
        for rule in rulebook.rules:
            for wording in rule.templates:
                tpl, rx = self._compile(rule.id, wording, is_exempt=False)
                if tpl is not None:
                    self._exact[len(self.templates)] = rx
                    self.templates.append(tpl)
                    self._slot_layouts.append(self._slot_layout(wording))
            for wording in rule.exempt:
                tpl, rx = self._compile(rule.id, wording, is_exempt=True)
                if tpl is not None:
                    self._exempt[rule.id].append((tpl, rx))
        if self.options.weight_distinctive_syllables:
            self.templates = _weigh_by_distinctiveness(self.templates)
        self._anchors = [tpl.anchors for tpl in self.templates]
        # incidence of regional syllable keys in templates, for a cheap candidate filter
        vocab = sorted({k for tpl in self.templates for k in tpl.key_syllables})
        self._key_column = {k: j for j, k in enumerate(vocab)}
        self._incidence = np.zeros((len(self.templates), len(vocab)), dtype=np.int16)
        needed = []
        for i, tpl in enumerate(self.templates):
            keys = tpl.key_syllables
            for key in keys:
                self._incidence[i, self._key_column[key]] = 1
            threshold = self.options.threshold(tpl.fixed_syllables)
            # a template can only reach its threshold if enough of its syllables occur
            allowed_misses = math.floor((1.0 - threshold) * tpl.fixed_syllables / tpl.min_weight + 1e-9)
            needed.append(max(1, len(keys) - allowed_misses))
        self._needed = np.asarray(needed, dtype=np.int16)
        self._key_counts = self._incidence.sum(axis=1)
        self._abuse = [self._compile("citizen.abuse", w, is_exempt=False) for w in rulebook.citizen_abuse.wording]
        self._situations = SituationCueFinder(rulebook, normalizer, self.options.threshold, self.options.max_slot_syllables, segmenter)
        self._sound_alike, self._sound_alike_templates = self._sound_alike_tier()

    # ------------------------------------------------------------------ building
    def _compile(self, rule_id: str, wording: str, is_exempt: bool) -> tuple[Template | None, re.Pattern | None]:
        parts: list[tuple[str, ...] | None] = []
        regex_parts: list[str] = []
        for i, piece in enumerate(wording.split(SLOT)):
            if i > 0:
                parts.append(None)
                regex_parts.append(f".{{0,{self.options.max_slot_syllables}}}")
            norm = self.normalizer.normalize(piece, drop_fillers=False).text
            if norm:
                parts.append(syllables(norm))
                regex_parts.append(re.escape(norm))
        tpl = make_template(rule_id, wording, parts, is_exempt)
        if tpl.fixed_syllables == 0:
            return None, None
        body = "".join(regex_parts).strip(".{}0123456789,")  # no slot at either end
        return tpl, re.compile(body)

    def _sound_alike_tier(self) -> tuple[SoundAlike | None, list[int]]:
        """The sound-alike table and the templates it applies to: short, slot-free wordings of its families."""
        table = self.options.sound_alike
        if table is None or not table.families or not self.options.use_pinyin:
            return None, []
        families = set(table.families)
        chosen = [i for i, tpl in enumerate(self.templates)
                  if not tpl.is_exempt and None not in tpl.tokens and self._families[tpl.rule_id] in families
                  and table.min_syllables <= tpl.fixed_syllables <= self.options.short_max_syllables]
        return SoundAlike(table.initials, table.finals, table.max_differing), chosen

    def _slot_layout(self, wording: str) -> tuple[int, ...]:
        """For each ×× of ``wording``: the index of its slot among the template's slot tokens, or
        _LEADING_SLOT / _TRAILING_SLOT for a ×× at either end (make_template drops those). Slots
        with nothing but punctuation between them are one slot token, as in make_template."""
        pieces = wording.split(SLOT)
        fixed = [bool(self.normalizer.normalize(p, drop_fillers=False).text) for p in pieces]
        layout: list[int] = []
        index = -1
        for j in range(len(pieces) - 1):  # the ×× between pieces[j] and pieces[j + 1]
            if not any(fixed[: j + 1]):
                layout.append(_LEADING_SLOT)
                continue
            if not any(fixed[j + 1 :]):
                layout.append(_TRAILING_SLOT)
                continue
            if fixed[j] or index < 0:
                index += 1
            layout.append(index)
        return tuple(layout)

    def _slot_spans(self, i: int, prep: _Prepared, al: Alignment) -> tuple[tuple[int, int], ...]:
        """The fillers of template ``i``'s ×× in original characters (see :class:`NearMiss`)."""
        layout = self._slot_layouts[i]
        if not layout:
            return ()
        start, end = prep.norm.span_to_original(al.start, al.end)
        offsets = prep.norm.offsets
        out = []
        for index in layout:
            if index < 0:
                edge = start if index == _LEADING_SLOT else end
                out.append((edge, edge))
                continue
            s, e = al.slots[index]
            if e > s:
                out.append(prep.norm.span_to_original(s, e))
            else:
                pos = offsets[s - 1] + 1 if s > 0 else 0
                out.append((pos, pos))
        return tuple(out)

    # ------------------------------------------------------------------ public API
    def match(self, utterance: Utterance | str, role: Role | str | None = None) -> list[RuleHit]:
        """Rule hits in one utterance (or text, with ``role`` defaulting to staff)."""
        return self.match_many([utterance], role=role)[0]

    @property
    def classifier_version(self) -> str | None:
        """The classifier's version id (``version_``, set by nlp.model_store), recorded on every hit."""
        if self.classifier is None or not self.options.use_classifier:
            return None
        return getattr(self.classifier, "version_", None)

    def match_many(self, utterances: Sequence[Utterance | str], role: Role | str | None = None) -> list[list[RuleHit]]:
        """Rule hits for many utterances; the classifier runs once over the whole batch."""
        items = [_as_utterance(u, role) for u in utterances]
        results: list[list[RuleHit]] = [[] for _ in items]
        per_item: list[tuple[_Prepared, dict[str, _Candidate]] | None] = []
        for u in items:
            if u.role not in self.options.staff_roles or not u.text.strip():
                per_item.append(None)
                continue
            prep = self._prepare(u.text)
            per_item.append((prep, self._lexical(prep)))
        if self.classifier is not None and self.options.use_classifier:
            self._classify([(p[0], p[1]) for p in per_item if p is not None])
        for k, item in enumerate(per_item):
            if item is None:
                continue
            prep, found = item
            results[k] = self._finish(prep, found)
        return results

    def near_misses(self, utterance: Utterance | str, role: Role | str | None = None) -> list[NearMiss]:
        """Rules that nearly matched but were not accepted, best first (one per rule)."""
        u = _as_utterance(utterance, role)
        if u.role not in self.options.staff_roles or not u.text.strip():
            return []
        prep = self._prepare(u.text)
        accepted = {h.rule_id for h in self._finish(prep, self._lexical(prep))}
        exempted: dict[str, bool] = {}
        best: dict[str, NearMiss] = {}
        for i in self._candidates(prep, relax=self.options.near_miss_margin):
            tpl = self.templates[i]
            if tpl.rule_id in accepted:
                continue
            # a forbidden rule the utterance is exempt from (it also guides the citizen to the right
            # window) could never become a hit: offering it to the audio check would bypass that
            if self._families[tpl.rule_id] is RuleFamily.FORBIDDEN:
                if tpl.rule_id not in exempted:
                    exempted[tpl.rule_id] = self._exempted(tpl.rule_id, prep)
                if exempted[tpl.rule_id]:
                    continue
            threshold = self.options.threshold(tpl.fixed_syllables)
            al = self._align(tpl, prep, min_score=threshold - self.options.near_miss_margin, with_slots=True)
            if al is None:
                continue
            if threshold - self.options.near_miss_margin <= al.score < threshold or (
                al.score >= threshold and tpl.rule_id not in accepted
            ):
                start, end = prep.norm.span_to_original(al.start, al.end)
                miss = NearMiss(tpl.rule_id, tpl.text, al.score, threshold, start, end, self._slot_spans(i, prep, al))
                if tpl.rule_id not in best or best[tpl.rule_id].score < al.score:
                    best[tpl.rule_id] = miss
        return sorted(best.values(), key=lambda m: -m.score)

    def citizen_abuse(self, utterance: Utterance | str) -> list[RuleHit]:
        """Abuse of staff by a citizen (二.7): recorded to protect staff, never scored against them.

        The rulebook's ``[citizen_abuse]`` wordings, found exactly or by pinyin alignment like
        the rules (homophones count; short wordings must match in full); quoted speech does not.
        """
        text = utterance.text if isinstance(utterance, Utterance) else utterance
        if not text.strip():
            return []
        prep = self._prepare(text)
        best: tuple[float, int, int, MatchMethod] | None = None
        for tpl, rx in self._abuse:
            if tpl is None:
                continue
            threshold = self.options.threshold(tpl.fixed_syllables)
            m = rx.search(prep.norm.text)
            if m:
                found = (1.0, m.start(), m.end(), MatchMethod.EXACT)
            else:
                al = self._align(tpl, prep, min_score=threshold)
                if al is None or al.used_regional or al.score < threshold:
                    continue
                found = (al.score, al.start, al.end, MatchMethod.PINYIN)
            if quoted(prep.norm, found[1], found[2]):
                continue
            if best is None or found[0] > best[0]:
                best = found
        if best is None:
            return []
        start, end = prep.norm.span_to_original(best[1], best[2])
        return [RuleHit("citizen.abuse", RuleFamily.FORBIDDEN, best[0], start, end, best[3], self.rulebook.version,
                        classifier_version=self.classifier_version)]

    def situation_cues(self, utterance: Utterance) -> list[RuleHit]:
        """Cues of the 七.1 situations in what either side says (:mod:`nlp.situations`)."""
        return self._situations.cues(utterance)

    # ------------------------------------------------------------------ layers
    def _prepare(self, text: str) -> _Prepared:
        norm = self.normalizer.normalize(text)
        syl = syllables(norm.text)
        reg = tuple(regional_key(s) for s in syl)
        return _Prepared(norm, syl, reg, frozenset(reg))

    def _candidates(self, prep: _Prepared, relax: float = 0.0) -> list[int]:
        columns = [j for j in map(self._key_column.get, prep.reg_set) if j is not None]
        if not columns:
            return []
        counts = self._incidence[:, columns].sum(axis=1)
        needed = self._needed
        if relax:
            needed = np.maximum(1, needed - np.ceil(relax * self._key_counts).astype(np.int16))
        return np.flatnonzero(counts >= needed).tolist()

    def _align(self, tpl: Template, prep: _Prepared, min_score: float | None = None, with_slots: bool = False) -> Alignment | None:
        max_cost = None if min_score is None else (1.0 - min_score) * tpl.fixed_syllables + 1e-9
        return align(
            tpl,
            prep.syl,
            prep.reg,
            max_slot=self.options.max_slot_syllables,
            regional_cost=self.options.regional_substitution_cost if self.options.use_regional else 1.0,
            max_cost=max_cost,
            with_slots=with_slots,
        )

    def _lexical(self, prep: _Prepared) -> dict[str, _Candidate]:
        found: dict[str, _Candidate] = {}
        text = prep.norm.text
        keys = " " + " ".join(prep.reg) + " "
        for i in self._candidates(prep):
            tpl = self.templates[i]
            if not all(anchor in keys for anchor in self._anchors[i]):
                continue
            threshold = self.options.threshold(tpl.fixed_syllables)
            m = self._exact[i].search(text)
            cand: _Candidate | None = None
            if m:
                cand = _Candidate(tpl.rule_id, 1.0, m.start(), m.end(), MatchMethod.EXACT, tpl.text, threshold)
            elif self.options.use_pinyin:
                al = self._align(tpl, prep, min_score=threshold)
                if al is not None:
                    if al.used_regional:
                        ok = al.score >= max(threshold, self.options.regional_min_score)
                        method = MatchMethod.REGIONAL
                    else:
                        ok = al.score >= threshold
                        method = MatchMethod.PINYIN
                    if ok:
                        cand = _Candidate(tpl.rule_id, al.score, al.start, al.end, method, tpl.text, threshold)
            if cand is None or not self._respects_words(prep, cand, tpl):
                continue
            old = found.get(tpl.rule_id)
            if old is None or (cand.score, cand.end - cand.start) > (old.score, old.end - old.start):
                found[tpl.rule_id] = cand
        self._sound_alikes(prep, found)
        return found

    def _sound_alikes(self, prep: _Prepared, found: dict[str, _Candidate]) -> None:
        """Short wordings with a syllable heard by one sound off (你算老几 as 你算老气): a weaker tier, at whole words only."""
        if self._sound_alike is None:
            return
        for i in self._sound_alike_templates:
            tpl = self.templates[i]
            if tpl.rule_id in found:
                continue
            n = tpl.fixed_syllables
            floor = 1.0 - self._sound_alike.max_differing * self.options.regional_substitution_cost / n
            for start, end, differing in self._sound_alike.find(tpl.tokens, prep.syl):
                score = 1.0 - differing * self.options.regional_substitution_cost / n
                cand = _Candidate(tpl.rule_id, score, start, end, MatchMethod.REGIONAL, tpl.text, floor)
                if self._respects_words(prep, cand, tpl):
                    found[tpl.rule_id] = cand
                    break

    def _respects_words(self, prep: _Prepared, cand: _Candidate, tpl: Template) -> bool:
        """A hit must not start or end inside a word ("问别人去" in "问别人去年…")."""
        if self.segmenter is None or not self.options.check_word_boundaries:
            return True
        cuts = self.segmenter.boundaries(prep.norm.text)
        cut = (cand.start not in cuts) + (cand.end not in cuts)
        if cut == 0:
            return True
        if tpl.fixed_syllables <= self.options.short_max_syllables:
            return False
        return cand.score - cut / tpl.fixed_syllables >= cand.threshold

    def _classify(self, batch: list[tuple[_Prepared, dict[str, _Candidate]]]) -> None:
        """Paraphrases the wordings miss: the classifier over clause windows."""
        windows: list[str] = []
        owners: list[tuple[int, int, int]] = []  # (batch index, norm start, norm end)
        for b, (prep, _found) in enumerate(batch):
            for start, end in clause_windows(prep.norm):
                if end - start < self.options.classifier_min_chars:
                    continue
                windows.append(prep.norm.text[start:end])
                owners.append((b, start, end))
        if not windows:
            return
        proba = self.classifier.predict_proba(windows)
        classes = list(self.classifier.classes_)
        forbidden_cols = [(j, c) for j, c in enumerate(classes) if self._families.get(c) in self.options.classifier_families]
        threshold = self.options.classifier_min_probability
        context_min = self.options.classifier_context_min_probability
        by_item: dict[int, list[int]] = defaultdict(list)
        for row_index, (b, _s, _e) in enumerate(owners):
            by_item[b].append(row_index)
        for b, rows in by_item.items():
            _prep, found = batch[b]
            for row_index in rows:
                _, start, end = owners[row_index]
                # the windows one clause wider on either side: the clause's immediate context
                context = [r for r in rows if r != row_index and is_one_clause_wider(owners[r], owners[row_index], owners, rows)]
                for j, rule_id in forbidden_cols:
                    p = float(proba[row_index][j])
                    if p < threshold:
                        continue
                    # meaning over words: a clause that reads as a push-off alone but not within its
                    # own sentence ("这个需要领导签字，我去找领导") is no hit
                    if context and max(float(proba[r][j]) for r in context) < context_min:
                        continue
                    old = found.get(rule_id)
                    if old is None or (old.method is MatchMethod.CLASSIFIER and p > old.score):
                        found[rule_id] = _Candidate(rule_id, p, start, end, MatchMethod.CLASSIFIER, "", threshold)

    def _exempted(self, rule_id: str, prep: _Prepared) -> bool:
        """Whether the utterance also says what shows the rule does not apply (at the usual
        thresholds: an exemption read too leniently would excuse "我说了算" as "不是我说了算")."""
        keys = " " + " ".join(prep.reg) + " "
        for tpl, rx in self._exempt.get(rule_id, ()):
            if rx.search(prep.norm.text):
                return True
            if not all(anchor in keys for anchor in tpl.anchors):
                continue
            threshold = self.options.threshold(tpl.fixed_syllables)
            al = self._align(tpl, prep, min_score=threshold)
            if al is not None and al.score >= threshold and not al.used_regional:
                return True
        return False

    def _finish(self, prep: _Prepared, found: dict[str, _Candidate]) -> list[RuleHit]:
        cands = [c for c in found.values() if not (self._families[c.rule_id] is RuleFamily.FORBIDDEN and self._exempted(c.rule_id, prep))]
        # a courtesy hit inside a longer courtesy hit of another rule gives way to it (请稍等
        # inside 请稍等，我马上转告); forbidden hits all stand: a slot of one may hold another
        # (到点了要下班了，急什么急，明天再来)
        def courteous(c: _Candidate) -> bool:
            return self._families[c.rule_id] is not RuleFamily.FORBIDDEN

        cands = [c for c in cands if not quoted(prep.norm, c.start, c.end)]
        kept = [
            c
            for c in cands
            if not courteous(c)
            or not any(
                o.rule_id != c.rule_id
                and courteous(o)
                and o.start <= c.start
                and c.end <= o.end
                and (o.end - o.start) > (c.end - c.start)
                for o in cands
            )
        ]
        hits = []
        for c in sorted(kept, key=lambda c: (c.start, c.rule_id)):
            start, end = prep.norm.span_to_original(c.start, c.end)
            evidence = {"threshold": round(c.threshold, 4)}
            hits.append(
                RuleHit(
                    rule_id=c.rule_id,
                    family=self._families[c.rule_id],
                    score=c.score,
                    start=start,
                    end=end,
                    method=c.method,
                    rulebook_version=self.rulebook.version,
                    evidence=evidence,
                    classifier_version=self.classifier_version,
                )
            )
        return hits





def _weigh_by_distinctiveness(templates: list[Template]) -> list[Template]:
    """Weigh each syllable by how few rules use it, scaled to a mean of 1 per template.

    Changing 查询 in 请稍等，我帮您查询一下 changes its meaning; changing 请 hardly does, and 请
    appears in many rules. Inverse rule frequency says which is which.
    """
    rules_with: dict[str, set[str]] = defaultdict(set)
    for tpl in templates:
        for key in tpl.key_syllables:
            rules_with[key].add(tpl.rule_id)
    n_rules = len({tpl.rule_id for tpl in templates})
    out = []
    for tpl in templates:
        raw = [0.0 if r is None else math.log(1.0 + n_rules / len(rules_with[r])) for r in tpl.regional]
        fixed = [w for w in raw if w > 0]
        mean = sum(fixed) / len(fixed) if fixed else 1.0
        # damped: half the weight is plain syllable count, half distinctiveness
        out.append(tpl.with_weights(tuple(0.0 if w == 0 else 0.5 + 0.5 * w / mean for w in raw)))
    return out


def _as_utterance(item: Utterance | str, role: Role | str | None) -> Utterance:
    if isinstance(item, Utterance):
        return item if role is None else replace(item, role=Role(role))
    return Utterance(text=item, role=Role(role) if role is not None else Role.STAFF)
