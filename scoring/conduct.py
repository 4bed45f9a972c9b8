"""Conduct checks inside one interaction: telephone calls (七.2), calls while serving (二.4), retorts (二.7).

Pure domain, like :mod:`scoring.score`: it reads a segment's utterances and hits and returns
findings; :func:`scoring.score.score_interaction` turns them into explanation lines and
``scoring.store`` into flags. Every cue, phrase and threshold comes from the rulebook's
``[telephone]``, ``[personal_call]`` and ``[retort]`` tables.

A call is found from staff lines alone (the caller is not on the window microphones): a line
that opens a call (a ``phone.greet`` or ``phone.outgoing`` hit, or a line starting with an
answer cue such as 喂, written or heard by its sound: a ``TELEPHONE_ANSWER_CUE``) and the staff
lines after it, until the citizen at the counter speaks again, staff fall silent for ``call_gap_seconds``, or another call opens. Staff alone at the
window whose lines hold a phrase only said on the telephone (``context_rules``, e.g. 请您拨打××窗口
电话查询一下) are on a call from their first line, when no line was heard as its opening.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

from models.domain import TELEPHONE_ANSWER_CUE, Role
from models.rulebook import SLOT, Matters, PersonalCallRules, PhoneSituation, Rulebook
from scoring.segment import FAREWELL_RULE, GREET_RULE, MatchedUtterance

TELEPHONE = "telephone"  # a phrase a call's situation calls for, not said (七.2)
PERSONAL_CALL = "personal_call"  # a call while serving, not about the citizen's matter (二.4)
PERSONAL_CALL_RULE = "conduct.personal_call"  # the explanation lines' rule id of a personal call
_EQUIVALENT = {"您": "你"}  # the ASR swaps them both ways


@dataclass(frozen=True)
class Finding:
    """One thing the conduct checks found: an explanation line, and a flag when it costs points.

    ``kind`` is :data:`TELEPHONE` or :data:`PERSONAL_CALL`; ``anchor`` the utterance the flag
    points at (the call's opening line); ``points`` is negative for a deduction, 0 for a strength.
    """

    kind: str
    rule_id: str
    anchor: MatchedUtterance
    points: float
    reason: str
    severity: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return self.points < 0


@dataclass(frozen=True)
class Call:
    """A telephone call inside an interaction: its staff lines, from the opening line on."""

    items: tuple[MatchedUtterance, ...]
    outgoing: bool
    during_service: bool  # a citizen was being served at the counter when the call began

    @property
    def opening(self) -> MatchedUtterance:
        return self.items[0]

    def said(self, rule_ids: Sequence[str]) -> MatchedUtterance | None:
        return next((i for i in self.items if any(i.has_rule(r) for r in rule_ids)), None)

    def transcript(self) -> str:
        return "\n".join(f"[{i.utterance.role.value}] {i.utterance.text}" for i in self.items)


def normalise(text: str) -> str:
    """Text as cues are looked up in it: letters and digits only, NFKC, 您 as 你.

    Example:
        >>> normalise("喂，您好！ 这里是 3号窗口")
        '喂你好这里是3号窗口'
    """
    text = unicodedata.normalize("NFKC", text)
    kept = (ch for ch in text if unicodedata.category(ch)[0] in ("L", "N") or ch == "×")
    return "".join(_EQUIVALENT.get(ch, ch) for ch in kept)


@lru_cache(maxsize=1024)
def _cue_pattern(cue: str, max_slot_chars: int) -> re.Pattern[str]:
    parts = [re.escape(normalise(p)) for p in cue.split(SLOT)]
    return re.compile(f".{{1,{max_slot_chars}}}".join(parts))


def find_cue(text: str, cues: Sequence[str], max_slot_chars: int = 8) -> str | None:
    """The first cue found in ``text`` (``××`` matches 1 to ``max_slot_chars`` characters), or None.

    Example:
        >>> find_cue("张科长现在不在", ["××不在"])
        '××不在'
    """
    norm = normalise(text)
    return next((c for c in cues if _cue_pattern(c, max_slot_chars).search(norm)), None)


def said_near(norm_text: str, word: str, max_substitutions: int = 0, fuzzy_min_chars: int = 4) -> bool:
    """Whether ``word`` is in the normalised text, allowing ``max_substitutions`` wrong characters
    in words of at least ``fuzzy_min_chars`` (the ASR writes 营业执照 as 营业执政).

    Example:
        >>> said_near("我想办一下营业执政", "营业执照", 1), said_near("我想办一下营业执政", "营业执照")
        (True, False)
    """
    word = normalise(word)
    if word in norm_text:
        return True
    if max_substitutions <= 0 or len(word) < fuzzy_min_chars:
        return False
    n = len(word)
    return any(sum(a != b for a, b in zip(norm_text[i:i + n], word)) <= max_substitutions for i in range(len(norm_text) - n + 1))


def _opens_call(item: MatchedUtterance, rulebook: Rulebook, in_call: bool) -> bool:
    # A greeting or an outgoing call's phrase always opens a call; an answer cue (喂) only when
    # no call is open (on a call, staff say 喂 to the caller).
    tel = rulebook.telephone
    if tel is None or not item.by_staff:
        return False
    if any(item.has_rule(r) for r in tel.opening_rules):
        return True
    if in_call:
        return False
    if any(c.rule_id == TELEPHONE_ANSWER_CUE for c in item.cues):  # 喂 written as 为 (nlp.situations)
        return True
    norm = normalise(item.utterance.text)
    return any(norm.startswith(normalise(cue)) for cue in tel.answer_cues)


def find_calls(items: Sequence[MatchedUtterance], rulebook: Rulebook) -> list[Call]:
    """The telephone calls among one interaction's utterances, in time order."""
    tel = rulebook.telephone
    if tel is None:
        return []
    ordered = sorted(items, key=lambda i: (i.utterance.start_s, i.seq))
    calls: list[Call] = []
    current: list[MatchedUtterance] = []
    # a citizen spoke, or staff greeted one at the counter (not on a call), and no farewell since: the
    # greeting counts too, as the citizen's own lines are the ones noise loses first
    serving = False
    during = False

    def close() -> None:
        if current:
            calls.append(Call(tuple(current), outgoing=current[0].has_rule(tel.outgoing_rule), during_service=during))

    for item in ordered:
        u = item.utterance
        continues = bool(current) and item.by_staff and u.start_s - current[-1].utterance.end_s < tel.call_gap_seconds
        if current and not continues:
            close()
            current = []
        # (a greeting the ASR cut in two opens the call once: an opening line right after the opening goes on with it)
        if _opens_call(item, rulebook, bool(current)) and not (continues and len(current) == 1):
            close()
            current, during = [item], serving
        elif current:
            current.append(item)
        if u.role is Role.CITIZEN or (item.has_rule(GREET_RULE) and not current):
            serving = True
        if item.has_rule(FAREWELL_RULE):
            serving = False
    close()
    if not calls and not any(i.utterance.role is Role.CITIZEN for i in ordered):
        staff = [i for i in ordered if i.by_staff]
        if any(i.has_rule(r) for i in staff for r in tel.context_rules):
            calls.append(Call(tuple(staff), outgoing=False, during_service=False))
    return calls


def _situation_cue(call: Call, situation: PhoneSituation, max_slot_chars: int) -> MatchedUtterance | None:
    for item in call.items:
        text = item.utterance.text
        if find_cue(text, situation.cues, max_slot_chars) and not find_cue(text, situation.exempt, max_slot_chars):
            return item
    return None


def telephone_findings(call: Call, rulebook: Rulebook) -> list[Finding]:
    """The phrases a call requires (七.2): the greeting of an incoming call and what its situations call for."""
    tel = rulebook.telephone
    if tel is None:
        return []
    wanted: list[tuple[str, tuple[str, ...], MatchedUtterance, str]] = []
    if not call.outgoing:
        wanted.append(("greeting", (tel.greeting_rule,), call.opening, rulebook.rule(tel.greeting_rule).situation))
    for situation in tel.situations:
        cue = _situation_cue(call, situation, tel.max_slot_chars)
        if cue is not None:
            wanted.append((situation.name, tuple(situation.rules), cue, situation.situation))
    out: list[Finding] = []
    for name, rule_ids, cue_item, situation_text in wanted:
        said = call.said(rule_ids)
        rule = rulebook.rule(rule_ids[0])
        evidence = {"situation": name, "situation_text": situation_text, "phrase": rule.canonical, "call": call.transcript(),
                    "cue_text": cue_item.utterance.text}
        if said is not None:
            out.append(Finding(TELEPHONE, rule.id, said, 0.0, f"{rule.id} ({rule.section}) said on the call ({situation_text}): {said.utterance.text}",
                               evidence=evidence))
        else:
            points = -rule.weight * tel.missing_penalty * rulebook.scoring.severity_multiplier(tel.severity)
            out.append(Finding(TELEPHONE, rule.id, call.opening, points,
                               f"{rule.id} ({rule.section}) not said on the call ({situation_text}): use 「{rule.canonical}」",
                               tel.severity.value, evidence))
    return out


def call_purpose(call: Call, items: Sequence[MatchedUtterance], rulebook: Rulebook, *, queue_matter: str | None = None) -> str:
    """What a call is: ``public`` (no citizen at the counter), or, while serving, ``work`` (about the
    citizen's matter), ``excused`` (an urgent call staff explained first, as 二.4 allows) or ``personal``.

    About the matter: a matter word said in the call (outside its greeting: a window's name is no
    matter; a call answered with 喂 may name the matter in its first line) and the same word, or a word of the same topic (``[matters]``), at the counter
    before it or in the queue ticket's 事项; or a work cue in the call or in staff's last lines
    before it. The topic makes the ticket a second witness of the matter when the ASR mangles
    the citizen's own words (我想办一下营业执照 heard as 云业执政, ticket 企业开办).
    """
    rules = rulebook.personal_call
    if rules is None or not call.during_service:
        return "public"
    slot = rulebook.telephone.max_slot_chars if rulebook.telephone else 8
    before = _before(call, items)
    staff_before = [i for i in before if i.by_staff][-rules.excuse_lines:]
    counter_text = "".join(normalise(i.utterance.text) for i in before) + normalise(queue_matter or "")
    call_text = _call_text(call, rulebook)
    matters = rulebook.matters
    if _same_matter(_matter_words(call_text, rules, matters), _matter_words(counter_text, rules, matters), matters):
        return "work"
    if find_cue("".join(i.utterance.text for i in (*call.items, *staff_before)), rules.work_cues, slot):
        return "work"
    if any(any(i.has_rule(r) for r in rules.excuse_rules) or find_cue(i.utterance.text, rules.excuse_cues, slot) for i in staff_before):
        return "excused"
    return "personal"


def _call_text(call: Call, rulebook: Rulebook) -> str:
    """What is said on the call, normalised, without the opening phrase (这里是××窗口 names a window)."""
    tel = rulebook.telephone
    out = []
    for item in call.items:
        text = item.utterance.text
        if tel is not None:
            for hit in sorted((h for h in item.hits if h.rule_id in tel.opening_rules), key=lambda h: -h.start):
                text = text[:hit.start] + "，" + text[hit.end:]
        out.append(normalise(text))
    return "".join(out)


def _matter_words(norm_text: str, rules: PersonalCallRules, matters: Matters) -> set[str]:
    subs, min_chars = rules.matter_max_substitutions, rules.matter_fuzzy_min_chars
    return {w for w in matters.words(rules.matter_words) if said_near(norm_text, w, subs, min_chars)}


def _same_matter(call_words: set[str], counter_words: set[str], matters: Matters) -> bool:
    if call_words & counter_words:
        return True
    topics = set().union(*(matters.topics_of(w) for w in counter_words)) if counter_words else set()
    return any(matters.topics_of(w) & topics for w in call_words)


def matter_topics(text: str | None, matters: Matters) -> set[str]:
    """The topics a ticket's 事项 or a window's name names (exact words only: both are typed, not heard)."""
    norm = normalise(text or "")
    return set().union(*(matters.topics_of(w) for w in matters.words() if normalise(w) in norm)) if norm else set()


def _before(call: Call, items: Sequence[MatchedUtterance]) -> list[MatchedUtterance]:
    start_s = call.opening.utterance.start_s
    return [i for i in sorted(items, key=lambda i: (i.utterance.start_s, i.seq)) if i.utterance.start_s < start_s]


def _personal_finding(call: Call, items: Sequence[MatchedUtterance], rulebook: Rulebook) -> Finding:
    rules = rulebook.personal_call
    points = -rules.weight * rulebook.scoring.severity_multiplier(rules.severity)
    kind = "outgoing" if call.outgoing else "incoming"
    before = _before(call, items)
    return Finding(
        PERSONAL_CALL, PERSONAL_CALL_RULE, call.opening, points,
        f"{PERSONAL_CALL_RULE} (二.4, {rules.severity.value}) {kind} call while serving a citizen, not about the citizen's matter: "
        f"{call.opening.utterance.text}",
        rules.severity.value,
        {"call": call.transcript(), "direction": kind, "counter": "\n".join(f"[{i.utterance.role.value}] {i.utterance.text}" for i in before[-6:])},
    )


def conduct_findings(items: Sequence[MatchedUtterance], rulebook: Rulebook, *, queue_matter: str | None = None) -> list[Finding]:
    """Every conduct finding of one interaction's utterances: each call's phrases, and personal calls.

    七.2 is about calls that serve the public (电话接待群众咨询): a call while serving that is not
    about the citizen's matter (personal, or an urgent call staff excused) is judged by 二.4 only.
    """
    out: list[Finding] = []
    for call in find_calls(items, rulebook):
        kind = call_purpose(call, items, rulebook, queue_matter=queue_matter)
        if kind in ("public", "work"):
            out.extend(telephone_findings(call, rulebook))
        elif kind == "personal":
            out.append(_personal_finding(call, items, rulebook))
    return out


REPEAT_VISIT_RULE = "conduct.repeat_visit"  # the explanation line of a return for the same matter (八.3/八.4)


@dataclass(frozen=True)
class RepeatReturn:
    """A return of the citizen an interaction served, for the same matter (a stored repeat-visit flag).

    ``key`` is the flag's dedupe key: the line's ``ref``, so dismissing that flag gives back its points.
    """

    key: str
    matter: str
    working_days: int


def repeat_visit_reason(matter: str, working_days: int) -> str:
    """The text of a repeat visit, as the flag's summary and the first visit's score line read it."""
    return f"repeat visit (八.3/八.4): the same citizen back for 「{matter}」 after {working_days} working day(s)"


def repeat_visit_points(rulebook: Rulebook) -> float:
    """Points a return for the same matter takes from the first visit: weight x the severity's multiplier."""
    rules = rulebook.repeat_visit
    return rules.weight * rulebook.scoring.severity_multiplier(rules.severity)


def provoking_abuse(items: Sequence[MatchedUtterance], retort: MatchedUtterance) -> MatchedUtterance | None:
    """The last citizen abuse before a staff retort in the same interaction (二.7), or None."""
    earlier = [i for i in items if i.abuse and not i.by_staff and i.utterance.start_s <= retort.utterance.start_s and i.seq != retort.seq]
    return max(earlier, key=lambda i: (i.utterance.start_s, i.seq), default=None)
