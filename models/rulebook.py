"""The rulebook: the code of conduct as versioned data, validated into typed objects.

The default rulebook ships as package data (``models/rulebooks/wenshang-2021.toml``); a site
points ``Settings.rulebook_path`` at its own copy. Code never hard-codes a phrase or a time:
it reads them from here, and every result records ``Rulebook.version``.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Literal, Sequence

from pydantic import Field, ValidationError, field_validator, model_validator

from models.attendance import ApprovalLevel
from models.domain import RuleFamily

from models.rulebook_base import SLOT, RulebookError, Severity, StrictSection, normalise_slots
from models.rulebook_matcher import MatcherThresholds, SoundAlike  # noqa: F401  (nlp.matcher reads SoundAlike from here)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")

DEFAULT_RULEBOOK = "wenshang-2021.toml"


class SituationCues(StrictSection):
    """How windowqa recognises the situation that calls for a 七.1 phrase (``[rules.detect]``).

    Cues are wordings (×× slots allowed) found in what one side says, like the rules' wordings
    (exact, or by toneless pinyin; short cues only in full). Each utterance with a cue adds its
    weight to the interaction's evidence: ``staff``/``citizen`` cues 1.0, ``*_weak`` cues
    ``weak_weight``; a staff-side silence of ``staff_silence_s`` in mid-interaction (staff away
    from the counter while the citizen is still there) adds ``silence_weight``. The situation is
    detected when the evidence reaches ``min_evidence``, or when staff say the rule's phrase
    (the phrase itself states the situation).
    """

    staff: list[str] = []
    citizen: list[str] = []
    staff_weak: list[str] = []
    citizen_weak: list[str] = []
    weak_weight: float = Field(0.5, gt=0, le=1)
    min_evidence: float = Field(1.0, gt=0)
    staff_silence_s: float | None = Field(None, gt=0)
    silence_weight: float = Field(0.5, gt=0, le=1)
    # queue data: a ticket whose 事项 is another window's matter ([matters]) adds this (None: not used)
    queue_weight: float | None = Field(None, gt=0, le=1)
    # a telephone call while serving (scoring.conduct) is the interruption itself, judged by the
    # conduct checks (二.4, 七.2): then only the phrase said shows this situation, no cue or silence
    call_explains: bool = False
    # forbidden rules whose wording, said by staff, is this situation handled badly (手续不全你来干什么
    # is the materials situation): such a hit is a strong cue, whatever the ASR made of the cue words
    forbidden: list[str] = []

    @field_validator("staff", "citizen", "staff_weak", "citizen_weak")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        cleaned = [normalise_slots(v.strip()) for v in values]
        for v in cleaned:
            if len(v.replace(SLOT, "").strip()) < 2:
                raise ValueError(f"cue {v!r}: a cue needs at least two characters of fixed text")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError(f"a cue appears twice: {sorted(v for v in cleaned if cleaned.count(v) > 1)}")
        return cleaned

    @model_validator(mode="after")
    def _has_cues(self) -> "SituationCues":
        if not (self.staff or self.citizen or self.staff_weak or self.citizen_weak):
            raise ValueError("a situation needs cues (staff, citizen, staff_weak or citizen_weak): silence alone says nothing")
        return self

    def cues(self, side: str) -> list[tuple[str, bool]]:
        """The cues of ``side`` ("staff" or "citizen") as (wording, strong)."""
        strong, weak = (self.staff, self.staff_weak) if side == "staff" else (self.citizen, self.citizen_weak)
        return [(c, True) for c in strong] + [(c, False) for c in weak]


class PhraseRule(StrictSection):
    """One prescribed or forbidden phrase of sections 七 and 八."""

    id: str = Field(pattern=r"^(courtesy|phone|forbidden)\.[a-z_]+$")
    family: RuleFamily
    section: str
    wording: list[str] = Field(min_length=1)
    variants: list[str] = []
    exempt: list[str] = []
    required: Literal["start", "end"] | None = None
    severity: Severity | None = None
    weight: float = Field(gt=0)
    situation: str = ""
    # For a forbidden rule: ids of the prescribed phrases staff should have said instead (shown
    # to staff next to their flagged utterance).
    instead: list[str] = []
    # For a 七.1 courtesy rule: how its situation is recognised; then the phrase is checked
    # (missing in its situation: a flag naming it; said: a strength).
    detect: SituationCues | None = None

    @field_validator("wording", "variants", "exempt")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        cleaned = [normalise_slots(v.strip()) for v in values]
        for v in cleaned:
            if not v.replace(SLOT, "").strip():
                raise ValueError("a wording needs some fixed text besides slots")
        return cleaned

    @model_validator(mode="after")
    def _family_matches(self) -> "PhraseRule":
        if not self.id.startswith(self.family.value + "."):
            raise ValueError(f"rule id {self.id!r} does not start with its family {self.family.value!r}")
        if self.family is RuleFamily.FORBIDDEN and self.severity is None:
            raise ValueError(f"forbidden rule {self.id!r} needs a severity")
        if self.family is RuleFamily.FORBIDDEN and self.required:
            raise ValueError(f"forbidden rule {self.id!r} cannot be required")
        if self.detect is not None and (self.family is not RuleFamily.COURTESY or self.required):
            raise ValueError(f"rule {self.id!r}: only a courtesy rule that is not required everywhere has a situation to detect")
        return self

    @property
    def situation_id(self) -> str:
        """The id of this rule's situation cues (``situation.<name>``), as stored with the cue hits."""
        return "situation." + self.id.split(".", 1)[1]

    @property
    def templates(self) -> list[str]:
        """Every wording the matcher accepts: the seed's first, then the variants."""
        return [*self.wording, *self.variants]

    @property
    def canonical(self) -> str:
        return " / ".join(self.wording)


class CitizenAbuse(StrictSection):
    wording: list[str] = []


class ShiftTimes(StrictSection):
    """The four check times of one season (四.(一).1)."""

    morning_arrive_by: time
    morning_leave_from: time
    afternoon_arrive_by: time
    afternoon_leave_from: time

    @field_validator("*", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        if isinstance(value, str) and not _HHMM.match(value):
            raise ValueError(f"expected a time as HH:MM, got {value!r}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "ShiftTimes":
        order = [self.morning_arrive_by, self.morning_leave_from, self.afternoon_arrive_by, self.afternoon_leave_from]
        if order != sorted(order):
            raise ValueError("check times must be in the order of the day")
        return self


class AttendanceRules(StrictSection):
    checks_per_day: int = Field(4, ge=1)
    summer_start: str
    summer_end: str
    grace_minutes: int = Field(0, ge=0)
    duplicate_window_minutes: int = Field(5, ge=0)
    summer: ShiftTimes
    winter: ShiftTimes
    leave_types: dict[str, str]

    @field_validator("summer_start", "summer_end")
    @classmethod
    def _mmdd(cls, value: str) -> str:
        if not _MMDD.match(value):
            raise ValueError(f"expected a date as MM-DD, got {value!r}")
        return value

    def is_summer(self, day: date) -> bool:
        key = day.strftime("%m-%d")
        return self.summer_start <= key <= self.summer_end

    def shift_for(self, day: date) -> ShiftTimes:
        return self.summer if self.is_summer(day) else self.winter


class LeaveApprovalStep(StrictSection):
    """One level of the leave approval chain and the leaves it decides."""

    level: ApprovalLevel
    label: str = Field(min_length=1)  # how staff and managers read the level (部门负责人, 督查考核科)
    # the step decides leaves (and extensions) of at least this many days in all; 0: every leave
    from_days: float = Field(0.0, ge=0)


class LeaveRules(StrictSection):
    """The leave approval chain (请假制度, 四.(二)): 逐级, one step after the other, lowest first."""

    approval_steps: list[LeaveApprovalStep] = Field(min_length=1)

    @field_validator("approval_steps")
    @classmethod
    def _in_chain_order(cls, steps: list[LeaveApprovalStep]) -> list[LeaveApprovalStep]:
        levels = [s.level for s in steps]
        order = list(ApprovalLevel)
        if len(set(levels)) != len(levels) or levels != sorted(levels, key=order.index):
            raise ValueError(f"approval steps must name each level once, lowest first ({', '.join(l.value for l in order)})")
        return steps

    def steps_for(self, days: float) -> list[LeaveApprovalStep]:
        """The steps a leave of ``days`` days in all (extensions included) must pass, in order."""
        return [s for s in self.approval_steps if days >= s.from_days]

    def label(self, level: ApprovalLevel) -> str:
        return next((s.label for s in self.approval_steps if s.level is level), level.value)


class PostRules(StrictSection):
    max_absence_minutes: int = Field(10, ge=1)
    forbid_all_staff_absent: bool = True


class RatingRules(StrictSection):
    levels: list[str] = Field(min_length=2)
    # the levels counted as 好评 in 好评率 (every report, page and circular reads this; nothing else decides it)
    good: list[str]
    # the levels that are 差评: each opens a follow-up case
    poor: list[str]
    follow_up_working_days: int = Field(5, ge=1)
    link_window_minutes: int = Field(10, ge=1)
    # A terminal vendor's level codes mapped onto ``levels`` (e.g. {"1": "非常满意"}); sites set this.
    vendor_codes: dict[str, str] = {}

    @model_validator(mode="after")
    def _known_levels(self) -> "RatingRules":
        unknown = (set(self.good) | set(self.poor) | set(self.vendor_codes.values())) - set(self.levels)
        if unknown:
            raise ValueError(f"good/poor name levels not in levels: {sorted(unknown)}")
        if set(self.good) & set(self.poor):
            raise ValueError(f"levels both good and poor: {sorted(set(self.good) & set(self.poor))}")
        if not self.good:
            raise ValueError("ratings.good names no level: 好评率 would always be 0")
        return self


class ManagementRules(StrictSection):
    """The management figures' rules: how many months a trend shows, the follow-up target and the watch list (约谈)."""

    trend_months: int = Field(12, ge=1, le=36)
    # 回访率 and 整改率 of 差评 are held against this target (a share, 1.0 = 100 %)
    follow_up_target: float = Field(1.0, gt=0, le=1)
    # watch list (约谈): a staff member or window among the watch_bottom_n lowest 好评率 of a month
    # (ranked among those with at least watch_min_ratings ratings that month) for watch_months_running months running
    watch_bottom_n: int = Field(2, ge=1)
    watch_months_running: int = Field(2, ge=1)
    watch_min_ratings: int = Field(5, ge=1)


# Levels windowqa gives the flags it raises without a rule's severity (a required courtesy not
# said: minor; a poor rating or a missed follow-up: major): a rulebook must define them.
BUILT_IN_SEVERITIES = (Severity.MINOR, Severity.MAJOR)


class ScoringRules(StrictSection):
    base: float = 100.0
    missing_required_penalty: float = 1.0
    forbidden_penalty: float = 1.0
    # A forbidden phrase's deduction is weight x forbidden_penalty x the multiplier of its rule's
    # severity; the levels defined here are the only ones a rule or the flag queue may use.
    severity: dict[Severity, float] = {Severity.MINOR: 0.5, Severity.MAJOR: 1.0, Severity.SERIOUS: 2.0}
    long_wait_minutes: int = 20
    silence_wait_seconds: int = 30
    interaction_gap_seconds: int = 45
    farewell_tail_seconds: int = 8  # what the citizen says right after the farewell still belongs to it
    # 七.1 situations ([rules.detect]): the phrase missing in its situation deducts weight x this;
    # said, it adds weight x situation_credit (a strength), the score never above base.
    missing_situation_penalty: float = Field(1.0, ge=0)
    situation_credit: float = Field(0.0, ge=0)

    @field_validator("severity")
    @classmethod
    def _severity_levels(cls, levels: dict[Severity, float]) -> dict[Severity, float]:
        missing = [s.value for s in BUILT_IN_SEVERITIES if s not in levels]
        if missing:
            raise ValueError(f"severity levels {missing} are missing (windowqa gives them to the flags it raises itself)")
        ordered = {s: levels[s] for s in Severity if s in levels}  # mildest first, whatever the file's order
        multipliers = list(ordered.values())
        if any(m < 0 for m in multipliers) or multipliers != sorted(multipliers):
            raise ValueError("severity multipliers must be at least 0 and never smaller for a more severe level "
                             f"({', '.join(s.value for s in Severity)})")
        return ordered

    @property
    def severity_levels(self) -> list[str]:
        """The severity levels of this rulebook, mildest first."""
        return [s.value for s in self.severity]

    def severity_multiplier(self, severity: Severity) -> float:
        """The penalty multiplier of a severity level (a level the rulebook defines)."""
        return self.severity[severity]


def _cue_list(values: list[str]) -> list[str]:
    cleaned = [normalise_slots(v.strip()) for v in values]
    if any(not v.replace(SLOT, "").strip() for v in cleaned):
        raise ValueError("a cue needs some fixed text besides slots")
    return cleaned


class RetortRules(StrictSection):
    """二.7: the forbidden rule of staff abuse, whose flags carry the citizen abuse before them."""

    rule: str = "forbidden.retort"


class PhoneSituation(StrictSection):
    """A telephone situation of 七.2: cues in staff's words on a call and the phrases that meet it."""

    name: str = Field(pattern=r"^[a-z_]+$")
    rules: list[str] = Field(min_length=1)
    cues: list[str] = Field(min_length=1)
    exempt: list[str] = []
    situation: str = ""

    @field_validator("cues", "exempt")
    @classmethod
    def _clean_cues(cls, values: list[str]) -> list[str]:
        return _cue_list(values)


class TelephoneRules(StrictSection):
    """七.2: how a call is found in staff's lines and what it requires."""

    answer_cues: list[str] = Field(min_length=1)
    greeting_rule: str = "phone.greet"
    outgoing_rule: str = "phone.outgoing"
    missing_penalty: float = Field(1.0, ge=0)
    severity: Severity = Severity.MINOR
    max_slot_chars: int = Field(8, ge=1)
    call_gap_seconds: float = Field(20.0, gt=0)
    situations: list[PhoneSituation] = []
    # phone phrases that show a call by themselves: staff alone at the window saying one are on a call
    # even when its opening line was not heard as one
    context_rules: list[str] = []
    # a line's first word, one character read like an answer cue (toneless), unless the next word is one of these
    answer_cue_by_sound: bool = False
    answer_cue_not_before: list[str] = []
    # ... except when the rest of the line starts with one of these (喂，您说的是… heard as 为您说的是…)
    answer_cue_to_caller: list[str] = []

    @field_validator("answer_cues")
    @classmethod
    def _clean_cues(cls, values: list[str]) -> list[str]:
        return _cue_list(values)

    @property
    def opening_rules(self) -> tuple[str, str]:
        return (self.greeting_rule, self.outgoing_rule)


class PersonalCallRules(StrictSection):
    """二.4: a call while a citizen is served, not about the citizen's matter."""

    severity: Severity = Severity.MAJOR
    weight: float = Field(10.0, gt=0)
    matter_words: list[str] = Field(min_length=1)
    matter_max_substitutions: int = Field(0, ge=0)  # wrong characters (ASR) a matter word may have ...
    matter_fuzzy_min_chars: int = Field(4, ge=2)  # ... when it is at least this long
    work_cues: list[str] = []
    excuse_rules: list[str] = []
    excuse_cues: list[str] = []
    excuse_lines: int = Field(2, ge=1)

    @field_validator("matter_words", "work_cues", "excuse_cues")
    @classmethod
    def _clean_cues(cls, values: list[str]) -> list[str]:
        return _cue_list(values)



class Matters(StrictSection):
    """The hall's matters (the queue's 事项, named as its windows are) and the words of each.

    A word said and a ticket's 事项 (or a window's name) under one topic are one matter: 营业执照
    belongs to 企业开办. Used to tell a work call from a personal one (二.4) and a ticket for
    another window's matter (七.1.5).
    """

    topics: dict[str, list[str]] = {}

    @field_validator("topics")
    @classmethod
    def _clean_topics(cls, topics: dict[str, list[str]]) -> dict[str, list[str]]:
        return {_cue_list([name])[0]: _cue_list(words) for name, words in topics.items()}

    def topics_of(self, word: str) -> set[str]:
        """The topics a matter word belongs to (a topic's own name is one of its words)."""
        return {name for name, words in self.topics.items() if word == name or word in words}

    def words(self, extra: Sequence[str] = ()) -> list[str]:
        """Every word that names a matter: ``extra`` first, then each topic's name and words."""
        out = list(extra)
        for name, words in self.topics.items():
            out += [w for w in (name, *words) if w not in out]
        return out


class RepeatVisitRules(StrictSection):
    """八.3/八.4: the same citizen back for the same matter within ``working_days``."""

    working_days: int = Field(5, ge=0)
    severity: Severity = Severity.MAJOR
    weight: float = Field(0.0, ge=0)  # points off the first visit: weight x the severity's multiplier (0: a flag only)


class Rulebook(StrictSection):
    """The whole code of conduct as checked by windowqa."""

    version: str = Field(min_length=1)
    title: str
    issued: date
    source: str = ""
    matcher: MatcherThresholds = MatcherThresholds()
    rules: list[PhraseRule] = Field(min_length=1)
    citizen_abuse: CitizenAbuse = CitizenAbuse()
    attendance: AttendanceRules
    post: PostRules = PostRules()
    leave: LeaveRules
    ratings: RatingRules
    scoring: ScoringRules = ScoringRules()
    management: ManagementRules = ManagementRules()
    retort: RetortRules = RetortRules()
    telephone: TelephoneRules | None = None
    personal_call: PersonalCallRules | None = None
    matters: Matters = Matters()
    repeat_visit: RepeatVisitRules = RepeatVisitRules()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[PhraseRule]) -> list[PhraseRule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        for rule in rules:
            unknown = [rid for rid in rule.instead if rid not in seen]
            if unknown:
                raise ValueError(f"rule {rule.id!r}: instead names unknown rule ids {unknown}")
        forbidden = {r.id for r in rules if r.family is RuleFamily.FORBIDDEN}
        for rule in rules:
            wrong = [rid for rid in (rule.detect.forbidden if rule.detect else []) if rid not in forbidden]
            if wrong:
                raise ValueError(f"rule {rule.id!r}: detect.forbidden names no forbidden rule: {wrong}")
        return rules

    @model_validator(mode="after")
    def _severities_defined(self) -> "Rulebook":
        for rule in self.rules:
            if rule.severity is not None and rule.severity not in self.scoring.severity:
                raise ValueError(
                    f"rule {rule.id!r}: severity {rule.severity.value!r} is not a level of [scoring.severity] "
                    f"({', '.join(self.scoring.severity_levels)})"
                )
        return self

    @model_validator(mode="after")
    def _conduct_rules_known(self) -> "Rulebook":
        ids = {r.id for r in self.rules}
        named: list[tuple[str, str]] = []
        if self.telephone is not None:
            named += [("telephone.greeting_rule", self.telephone.greeting_rule), ("telephone.outgoing_rule", self.telephone.outgoing_rule)]
            named += [("telephone.context_rules", rid) for rid in self.telephone.context_rules]
            named += [(f"telephone.situations ({s.name})", rid) for s in self.telephone.situations for rid in s.rules]
        if self.personal_call is not None:
            named += [("personal_call.excuse_rules", rid) for rid in self.personal_call.excuse_rules]
        retort = next((r for r in self.rules if r.id == self.retort.rule), None)
        if retort is not None and retort.family is not RuleFamily.FORBIDDEN:
            raise ValueError(f"retort.rule {self.retort.rule!r} must be a forbidden rule")
        unknown = [f"{where}: {rid!r}" for where, rid in named if rid not in ids]
        if unknown:
            raise ValueError("unknown rule ids: " + "; ".join(unknown))
        levels = [("telephone.severity", self.telephone.severity if self.telephone else None),
                  ("personal_call.severity", self.personal_call.severity if self.personal_call else None),
                  ("repeat_visit.severity", self.repeat_visit.severity)]
        for where, level in levels:
            if level is not None and level not in self.scoring.severity:
                raise ValueError(f"{where}: {level.value!r} is not a level of [scoring.severity]")
        return self

    @cached_property
    def by_id(self) -> dict[str, PhraseRule]:
        return {rule.id: rule for rule in self.rules}

    def rule(self, rule_id: str) -> PhraseRule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            raise KeyError(f"unknown rule id {rule_id!r}; known: {', '.join(self.by_id)}") from None

    def family(self, family: RuleFamily) -> list[PhraseRule]:
        return [r for r in self.rules if r.family is family]

    @property
    def required_rules(self) -> list[PhraseRule]:
        return [r for r in self.rules if r.required]

    @property
    def situational_rules(self) -> list[PhraseRule]:
        """The 七.1 rules whose situation windowqa detects (``[rules.detect]``)."""
        return [r for r in self.rules if r.detect is not None]


def default_rulebook_path() -> Path:
    """The rulebook shipped with windowqa."""
    return Path(__file__).with_name("rulebooks") / DEFAULT_RULEBOOK


def _format_location(loc: tuple, data: dict) -> str:
    parts: list[str] = []
    node: object = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            rid = node.get("id") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{item}]" + (f" (id {rid})" if rid else "")
            continue
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def load_rulebook(path: str | Path | None = None) -> Rulebook:
    """Read and validate a rulebook file.

    Args:
        path: a TOML rulebook; the shipped default when None.

    Raises:
        RulebookError: the file is missing, is not TOML or fails validation; the message names
            the file, the key and the reason.
    """
    path = Path(path) if path is not None else default_rulebook_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulebookError(f"{path}: rulebook file not found") from None
    except UnicodeDecodeError as exc:
        raise RulebookError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Rulebook.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_format_location(err['loc'], data)}: {err['msg']}" for err in exc.errors()]
        raise RulebookError(f"{path}: invalid rulebook:\n  " + "\n  ".join(problems)) from None
