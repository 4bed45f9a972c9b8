"""The 七.1 situations that call for a phrase, found in one interaction, and the phrase checked.

A situation rule (``[rules.detect]`` in the rulebook, ``models.rulebook.SituationCues``) is
detected in an interaction when the evidence of its cues reaches ``min_evidence``: each
utterance carrying a cue of the situation (``MatchedUtterance.cues``, found by
``nlp.situations`` in either side's words) adds 1.0 for a strong cue or ``weak_weight`` for a
weak one; a staff-side silence of ``staff_silence_s`` in mid-interaction adds
``silence_weight``; a queue ticket for another window's matter (``[matters]``) adds ``queue_weight``;
a staff hit of a forbidden rule in ``detect.forbidden`` (the situation handled badly) adds 1.0.
Staff saying the rule's phrase also shows the situation (the phrase states it). Then:

* phrase said by staff in the interaction: a strength, ``weight x situation_credit`` points;
* phrase missing: a deduction of ``weight x missing_situation_penalty``, at the first cue's
  utterance, and a flag naming the phrase to use (``scoring.store.recordings``).

Cues alone never make a hit: a single weak cue (a citizen asking whether a copy will do) is not
enough. What staff say on a telephone call (``scoring.conduct.find_calls``) is said to the caller,
not to the citizen at the counter: its cues are no 七.1 situation (这位群众的营业执照还差一份材料 on a
work call). A situation whose rulebook entry says ``call_explains`` (staff leaving the counter) is
shown only by its phrase in an interaction with a call while serving: the call is the interruption,
judged by the conduct checks (a personal call, 二.4). Pure domain: no database.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.domain import Role
from models.rulebook import PhraseRule, Rulebook
from scoring.conduct import find_calls, matter_topics
from scoring.segment import MatchedUtterance, Segment


@dataclass(frozen=True)
class SituationFinding:
    """A detected situation in one interaction and whether its phrase was said.

    Attributes:
        rule: the 七.1 rule whose situation it is.
        evidence: the summed weight of its cues (and silence).
        cue_items: the utterances that carry its cues, in time order.
        said: the staff utterance with the phrase, None when it is missing.
        silence_s: the staff-side silence counted as evidence (0: none).
        anchor: the utterance the finding is recorded at (the phrase when said, else the first cue).
        queue_matter: the ticket's 事项 when it was evidence (another window's matter), else None.
    """

    rule: PhraseRule
    evidence: float
    cue_items: tuple[MatchedUtterance, ...]
    said: MatchedUtterance | None
    silence_s: float
    anchor: MatchedUtterance
    queue_matter: str | None = None

    @property
    def cue_texts(self) -> list[str]:
        return [f"[{i.utterance.role.value}] {i.utterance.text}" for i in self.cue_items]


def find_situations(segment: Segment, rulebook: Rulebook, *, window_name: str | None = None) -> list[SituationFinding]:
    """The situations of ``rulebook.situational_rules`` detected in a served interaction.

    ``window_name``: the window's name; with the queue ticket's 事项 it tells a ticket for another
    window's matter (both named under ``[matters]`` topics, none shared).
    """
    if not segment.served:
        return []
    items = sorted(segment.items, key=lambda i: (i.utterance.start_s, i.seq))
    ticket = segment.queue_call.matter if segment.queue_call else None
    ticket_topics, window_topics = matter_topics(ticket, rulebook.matters), matter_topics(window_name, rulebook.matters)
    elsewhere = ticket if ticket_topics and window_topics and not ticket_topics & window_topics else None
    calls = find_calls(items, rulebook)
    on_call = {i.seq for call in calls for i in call.items}
    served_call = any(call.during_service for call in calls)
    found = []
    for rule in rulebook.situational_rules:
        if rule.detect.call_explains and served_call:
            # a call while serving is the interruption, judged by the conduct checks (二.4, 七.2):
            # only the phrase said shows this situation then, no cue or silence
            finding = _finding(rule, [], None, said_in=items)
        else:
            finding = _finding(rule, items, elsewhere, on_call)
        if finding is not None:
            found.append(finding)
    return found


def _finding(rule: PhraseRule, items: list[MatchedUtterance], elsewhere: str | None = None,
             on_call: frozenset[int] | set[int] = frozenset(), said_in: list[MatchedUtterance] | None = None) -> SituationFinding | None:
    """The situation of ``rule`` from the cues in ``items`` (none of ``on_call``); its phrase looked for in ``said_in`` (default ``items``)."""
    detect = rule.detect
    evidence = 0.0
    queue_matter = elsewhere if detect.queue_weight is not None else None
    if queue_matter is not None:
        evidence += detect.queue_weight
    cue_items = []
    for item in items:
        weights = [1.0 if cue.evidence.get("strong", 0.0) >= 0.5 else detect.weak_weight
                    for cue in item.cues if cue.rule_id == rule.situation_id and item.seq not in on_call]
        if item.seq not in on_call and any(item.has_rule(rid) for rid in detect.forbidden):
            weights.append(1.0)  # the situation's forbidden wording said: a strong cue
        if weights:
            evidence += max(weights)
            cue_items.append(item)
    silence_s, silence_at = 0.0, None
    if detect.staff_silence_s is not None:
        silence_s, silence_at = _staff_silence(items)
        if silence_s >= detect.staff_silence_s:
            evidence += detect.silence_weight
        else:
            silence_s, silence_at = 0.0, None
    said = next((i for i in (items if said_in is None else said_in) if i.has_rule(rule.id)), None)
    if said is None and evidence < detect.min_evidence - 1e-9:
        return None
    anchor = said or (cue_items[0] if cue_items else silence_at) or (items[0] if queue_matter and items else None)
    if anchor is None:
        return None
    return SituationFinding(rule, round(evidence, 3), tuple(cue_items), said, round(silence_s, 1), anchor, queue_matter)


def _staff_silence(items: list[MatchedUtterance]) -> tuple[float, MatchedUtterance | None]:
    """The longest silence of the staff side between two staff utterances while a citizen is there.

    Counted only in mid-interaction: a citizen has spoken before it and staff speak again after it
    (staff working quietly at the end, or a citizen who has left, is no absence in service).
    """
    longest, at = 0.0, None
    citizen_seen = False
    last_staff: MatchedUtterance | None = None
    for item in items:
        if item.utterance.role is Role.CITIZEN:
            citizen_seen = True
            continue
        if last_staff is not None and citizen_seen:
            gap = item.utterance.start_s - last_staff.utterance.end_s
            if gap > longest:
                longest, at = gap, last_staff
        last_staff = item
    return longest, at


def describe(finding: SituationFinding) -> str:
    """The situation in a line: the rule's situation text and what showed it."""
    shown = "; ".join(finding.cue_texts[:3])
    if finding.silence_s:
        shown = (shown + "; " if shown else "") + f"staff silent {finding.silence_s:.0f} s mid-service"
    if finding.queue_matter:
        shown = (shown + "; " if shown else "") + f"queue ticket for 「{finding.queue_matter}」, another window's matter"
    if not shown and finding.said is not None:
        shown = "the phrase itself"
    return f"{finding.rule.situation or finding.rule.id} (evidence {finding.evidence:g}: {shown})"


__all__ = ["SituationFinding", "describe", "find_situations"]
