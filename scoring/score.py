"""Score one interaction from the rulebook, line by line.

The score starts at ``[scoring].base``; each line of the explanation adds or deducts points
and names the rule, the reason and the utterance. Deductions:

* a required courtesy rule (``required = "start"``/``"end"``) not said by staff in the first /
  last half of a served interaction: ``weight x missing_required_penalty``;
* each forbidden phrase said by staff: ``weight x forbidden_penalty x`` the multiplier of the
  rule's severity in ``[scoring.severity]`` (severity noted on the line);
* situational rules whose situation is detectable: the citizen waited at least
  ``long_wait_minutes`` per the queue data and staff did not say ``courtesy.sorry_for_wait``;
  staff left the citizen in silence at least ``silence_wait_seconds`` without
  ``courtesy.please_wait`` before it;
* a 七.1 phrase missing in its detected situation (``[rules.detect]``, :mod:`scoring.situations`):
  ``weight x missing_situation_penalty``; said there, it is a strength of ``weight x
  situation_credit`` points (strengths never lift the score above the base).

* conduct findings (:mod:`scoring.conduct`): a phrase a telephone call's situation calls for
  and staff did not say (七.2), a call while serving not about the citizen's matter (二.4);
* each return of the citizen for the same matter (八.3/八.4, a repeat-visit flag on this first
  visit): ``[repeat_visit].weight x`` its severity's multiplier.

Other courtesy hits and citizen abuse are explained with 0 points: citizen abuse is recorded to
protect staff (二.7), never scored against them. The score never drops below 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping, Sequence

from models.domain import Role, RuleFamily
from models.rulebook import PhraseRule, Rulebook
from scoring.conduct import REPEAT_VISIT_RULE, Finding, RepeatReturn, conduct_findings, repeat_visit_points, repeat_visit_reason
from scoring.segment import MatchedUtterance, Segment
from scoring.situations import SituationFinding, describe, find_situations

SORRY_FOR_WAIT = "courtesy.sorry_for_wait"
PLEASE_WAIT = "courtesy.please_wait"
# Stable ids (shared spec rule-ids.md) of the required courtesy a missing-courtesy flag is about.
REQUIRED_COURTESY_IDS = frozenset({"courtesy.greet", "courtesy.farewell"})


# The line that keeps strengths from lifting a score above its base: not a deduction, so no flag stands for it.
STRENGTH_CAP_REASON = "strengths count up to the base score only"


@dataclass(frozen=True)
class ScoreLine:
    """One line of a score's explanation; ``points`` is negative for a deduction."""

    reason: str
    points: float = 0.0
    rule_id: str | None = None
    utterance_seq: int | None = None
    start_s: float | None = None
    severity: str | None = None
    ref: str | None = None  # what a line about no utterance is about (a repeat visit: its flag's key)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> "ScoreLine":
        """A line as :meth:`as_json` stored it (an interaction's ``explanation``)."""
        return cls(
            reason=str(row.get("reason", "")), points=float(row.get("points") or 0.0), rule_id=row.get("rule_id"),
            utterance_seq=row.get("utterance_seq"), start_s=row.get("start_s"), severity=row.get("severity"), ref=row.get("ref"),
        )


def points_deducted(explanation: Iterable[Mapping[str, Any] | ScoreLine], rule_ids: Collection[str], utterance_seq: int | None) -> float:
    """Points the deduction lines of ``rule_ids`` at ``utterance_seq`` took from a score.

    ``utterance_seq=None`` selects the lines about the whole interaction (a required courtesy
    not said). This is what dismissing a flag gives back.

    Example:
        >>> lines = [ScoreLine("base", 100.0), ScoreLine("x", -20.0, "forbidden.a", 3), ScoreLine("y", -10.0, "courtesy.greet")]
        >>> points_deducted([l.as_json() for l in lines], {"forbidden.a"}, 3), points_deducted(lines, {"courtesy.greet"}, None)
        (20.0, 10.0)
    """
    lost = 0.0
    for raw in explanation:
        line = raw if isinstance(raw, ScoreLine) else ScoreLine.from_json(raw)
        if line.points < 0 and line.rule_id in rule_ids and line.utterance_seq == utterance_seq:
            lost += -line.points
    return lost


@dataclass(frozen=True)
class InteractionScore:
    """An interaction's score with its explanation and the rulebook version that made it."""

    score: float
    lines: tuple[ScoreLine, ...]
    rulebook_version: str
    served: bool
    has_greeting: bool
    has_farewell: bool
    forbidden: tuple[tuple[MatchedUtterance, Any], ...] = field(default=())
    abuse: tuple[tuple[MatchedUtterance, Any], ...] = field(default=())
    findings: tuple[Finding, ...] = field(default=())  # conduct checks (telephone, personal calls)
    situations: tuple[SituationFinding, ...] = field(default=())

    def explain(self) -> str:
        """The explanation as text, one line per rule, ending with the total."""
        rows = [f"{line.points:+7.1f}  {line.reason}" for line in self.lines]
        rows.append(f"{self.score:7.1f}  = score ({self.rulebook_version})")
        return "\n".join(rows)


def _said_where(items: list[MatchedUtterance], rule_id: str, where: str | None) -> MatchedUtterance | None:
    # "start" = the first half of the interaction, "end" = the last half (by utterance order):
    # a structural rule that needs no time constant.
    n = len(items)
    half = (n + 1) // 2
    if where == "start":
        pool = items[:half] if n > 2 else items
    elif where == "end":
        pool = items[n - half :] if n > 2 else items
    else:
        pool = items
    return next((i for i in pool if i.has_rule(rule_id)), None)


def score_interaction(segment: Segment, rulebook: Rulebook, *, wait_minutes: float | None = None,
                      returns: Sequence[RepeatReturn] = (), window_name: str | None = None) -> InteractionScore:
    """Score one interaction.

    Args:
        segment: the interaction's utterances and hits.
        rulebook: weights, penalties and thresholds.
        wait_minutes: how long the citizen waited before being called (queue data), if known.
        returns: the citizen's returns for the same matter (repeat-visit flags on this first visit).
        window_name: the window's name (a ticket for another window's matter is a 七.1.5 cue).

    Returns:
        The score with one explanation line per rule considered.
    """
    rules = rulebook.scoring
    items = segment.items
    served = segment.served
    lines: list[ScoreLine] = [ScoreLine(reason=f"base score ({rulebook.version})", points=rules.base)]
    present = _required_lines(items, rulebook, served, lines)
    forbidden, abuse = _phrase_lines(items, rulebook, lines)

    if served and wait_minutes is not None and wait_minutes >= rules.long_wait_minutes:
        rule = rulebook.by_id.get(SORRY_FOR_WAIT)
        if rule is not None:
            found = next((i for i in items if i.has_rule(SORRY_FOR_WAIT)), None)
            if found is None:
                lines.append(
                    ScoreLine(
                        f"{rule.id} ({rule.section}) not said although the citizen waited {wait_minutes:.0f} min (>= {rules.long_wait_minutes})",
                        -rule.weight,
                        rule.id,
                    )
                )

    if served:
        line = _silence_line(items, rulebook)
        if line is not None:
            lines.append(line)
    situations = find_situations(segment, rulebook, window_name=window_name)
    lines.extend(situation_line(f, rulebook) for f in situations)

    matter = segment.queue_call.matter if segment.queue_call else None
    findings = tuple(conduct_findings(items, rulebook, queue_matter=matter))
    lines.extend(ScoreLine(f.reason, f.points, f.rule_id, f.anchor.seq, f.anchor.utterance.start_s, f.severity) for f in findings)
    severity = rulebook.repeat_visit.severity.value
    lines.extend(ScoreLine(repeat_visit_reason(r.matter, r.working_days), -repeat_visit_points(rulebook), REPEAT_VISIT_RULE,
                           severity=severity, ref=r.key) for r in returns)
    excess = sum(line.points for line in lines) - rules.base
    if excess > 0:  # strengths make up for deductions, never lift the score above the base
        lines.append(ScoreLine(f"{STRENGTH_CAP_REASON} (+{excess:g} not counted)", -excess))

    total = max(0.0, sum(line.points for line in lines))
    return InteractionScore(
        score=round(total, 2),
        lines=tuple(lines),
        rulebook_version=rulebook.version,
        served=served,
        has_greeting=present.get("courtesy.greet", False),
        has_farewell=present.get("courtesy.farewell", False),
        forbidden=tuple(forbidden),
        abuse=tuple(abuse),
        findings=findings,
        situations=tuple(situations),
    )


def situation_line(finding: SituationFinding, rulebook: Rulebook) -> ScoreLine:
    """The line of a detected 七.1 situation: a strength when its phrase was said, else a deduction
    (at the first cue's utterance) that names the phrase to use."""
    rule = finding.rule
    at = finding.anchor
    if finding.said is not None:
        return ScoreLine(f"{rule.id} ({rule.section}) said in its situation, a strength: {finding.said.utterance.text} "
                         f"[{describe(finding)}]", rule.weight * rulebook.scoring.situation_credit, rule.id, at.seq, at.utterance.start_s)
    return ScoreLine(f"{rule.id} ({rule.section}) not said in its situation {describe(finding)}; say: {rule.canonical}",
                     -rule.weight * rulebook.scoring.missing_situation_penalty, rule.id, at.seq, at.utterance.start_s, "minor")


def _required_lines(items: list[MatchedUtterance], rulebook: Rulebook, served: bool, lines: list[ScoreLine]) -> dict[str, bool]:
    # One line per required courtesy rule (said, missing, or not required); returns which were said.
    present: dict[str, bool] = {}
    for rule in rulebook.required_rules:
        if rule.family is not RuleFamily.COURTESY:
            continue
        found = _said_where(items, rule.id, rule.required)
        present[rule.id] = found is not None
        half = "first" if rule.required == "start" else "last"
        if found is not None:
            lines.append(ScoreLine(f"{rule.id} ({rule.section}) said: {found.utterance.text}", 0.0, rule.id, found.seq, found.utterance.start_s))
        elif served:
            lines.append(
                ScoreLine(
                    f"{rule.id} ({rule.section}) not said by staff in the {half} half of the interaction",
                    -missing_required_points(rule, rulebook),
                    rule.id,
                )
            )
        else:
            lines.append(ScoreLine(f"{rule.id} not required: nobody was served (no citizen spoke)", 0.0, rule.id))
    return present


def _phrase_lines(
    items: list[MatchedUtterance], rulebook: Rulebook, lines: list[ScoreLine]
) -> tuple[list[tuple[MatchedUtterance, Any]], list[tuple[MatchedUtterance, Any]]]:
    # Staff's forbidden phrases (deducted) and other phrases (0 points); citizens' abuse (recorded, 0 points).
    forbidden: list[tuple[MatchedUtterance, Any]] = []
    abuse: list[tuple[MatchedUtterance, Any]] = []
    for item in items:
        seen: set[str] = set()
        for hit in item.hits:
            if not item.by_staff or hit.rule_id in seen:
                continue
            seen.add(hit.rule_id)
            rule = rulebook.by_id.get(hit.rule_id)
            if hit.family is RuleFamily.FORBIDDEN and rule is not None:
                forbidden.append((item, hit))
                lines.append(
                    ScoreLine(
                        f"{hit.rule_id} ({rule.section}, {rule.severity.value}) forbidden phrase by staff: {item.utterance.text}",
                        -forbidden_points(rule, rulebook),
                        hit.rule_id,
                        item.seq,
                        item.utterance.start_s,
                        rule.severity.value,
                    )
                )
            elif rule is not None and not rule.required:
                lines.append(ScoreLine(f"{hit.rule_id} ({rule.section}) said: {item.utterance.text}", 0.0, hit.rule_id, item.seq, item.utterance.start_s))
        for hit in item.abuse:
            if item.utterance.role is Role.STAFF:
                continue
            abuse.append((item, hit))
            lines.append(ScoreLine(f"citizen abuse recorded, not penalised (二.7): {item.utterance.text}", 0.0, hit.rule_id, item.seq, item.utterance.start_s))
    return forbidden, abuse


def missing_required_points(rule: PhraseRule, rulebook: Rulebook) -> float:
    """Points a required courtesy phrase (greeting, farewell) not said in a served interaction deducts."""
    return rule.weight * rulebook.scoring.missing_required_penalty


def forbidden_points(rule: PhraseRule, rulebook: Rulebook) -> float:
    """Points a forbidden phrase of ``rule`` deducts: weight x forbidden_penalty x its severity's multiplier.

    Example:
        >>> from models.rulebook import load_rulebook
        >>> rb = load_rulebook()
        >>> forbidden_points(rb.rule("forbidden.go_to_leader"), rb)  # weight 20, major (x 1.0)
        20.0
    """
    return rule.weight * rulebook.scoring.forbidden_penalty * rulebook.scoring.severity_multiplier(rule.severity)


def _silence_line(items: list[MatchedUtterance], rulebook: Rulebook) -> ScoreLine | None:
    # Staff left the citizen waiting in silence: a gap of silence_wait_seconds after the citizen
    # spoke (staff working without a word), unless staff said 请稍等 since the citizen last spoke.
    rule = rulebook.by_id.get(PLEASE_WAIT)
    if rule is None:
        return None
    threshold = rulebook.scoring.silence_wait_seconds
    ordered = sorted(items, key=lambda i: i.utterance.start_s)
    announced = False
    last_end = None
    for prev, nxt in zip(ordered, ordered[1:]):
        if prev.utterance.role is Role.CITIZEN:
            announced = False
        if prev.has_rule(PLEASE_WAIT):
            announced = True
        last_end = prev.utterance.end_s if last_end is None else max(last_end, prev.utterance.end_s)
        gap = nxt.utterance.start_s - last_end
        if gap >= threshold and not announced:
            return ScoreLine(
                f"{rule.id} ({rule.section}) not said before {gap:.0f} s of silence (>= {threshold} s)",
                -rule.weight,
                rule.id,
                prev.seq,
                prev.utterance.end_s,
            )
    return None
