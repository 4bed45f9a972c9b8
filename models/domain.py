"""Domain types shared by every stage: who spoke, what was said, which rule it hit.

Stages hand these small frozen dataclasses to each other; nothing here loads a model.
Times are seconds (``*_s``) from the start of a recording unless a name says otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Role(str, enum.Enum):
    """Who spoke an utterance."""

    STAFF = "staff"
    CITIZEN = "citizen"
    UNKNOWN = "unknown"


class RuleFamily(str, enum.Enum):
    """The rulebook's families; ``phone`` rules are courtesy on the telephone (七.2)."""

    COURTESY = "courtesy"
    PHONE = "phone"
    FORBIDDEN = "forbidden"
    # not a phrase: a cue of a 七.1 situation (``situation.<name>``, ``nlp.situations``), either side
    SITUATION = "situation"


# a cue of the same family: a staff line that opens with a telephone answer cue heard by its sound
# (``nlp.situations``; ``scoring.conduct`` opens a call on it, 七.2)
TELEPHONE_ANSWER_CUE = "situation.telephone_answer"


class MatchMethod(str, enum.Enum):
    """Which matcher layer found a hit, cheapest first."""

    EXACT = "exact"
    PINYIN = "pinyin"
    REGIONAL = "regional"  # pinyin with regional-accent merges (z/zh, n/l, an/ang ...)
    CLASSIFIER = "classifier"
    AUDIO = "audio"  # confirmed against the audio by the ASR's phrase verification


@dataclass(frozen=True)
class Word:
    """One recognised word with its times."""

    text: str
    start_s: float
    end_s: float
    probability: float = 1.0


@dataclass(frozen=True)
class Utterance:
    """What one person said in one stretch of speech.

    ``start_s``/``end_s`` are offsets into the recording; ``started_at`` is the absolute
    wall-clock time of ``start_s`` when the recording's start time is known.
    """

    text: str
    role: Role = Role.STAFF
    start_s: float = 0.0
    end_s: float = 0.0
    window: str | None = None
    channel: int | None = None
    started_at: datetime | None = None
    words: tuple[Word, ...] = ()
    confidence: float = 1.0
    role_confidence: float = 1.0
    source: str | None = None  # recording path or id


@dataclass(frozen=True)
class RuleHit:
    """A rulebook rule found in an utterance.

    ``start``/``end`` are character offsets into the utterance's original text.
    """

    rule_id: str
    family: RuleFamily
    score: float
    start: int
    end: int
    method: MatchMethod
    rulebook_version: str
    evidence: dict[str, float] = field(default_factory=dict)
    classifier_version: str | None = None  # the matcher's classifier when the hit was made (None: none)

    @property
    def kind(self) -> str:
        return self.family.value

    def as_json(self) -> dict:
        """The hit in the CLI's JSON contract (shared spec, ``windowqa match --json``)."""
        return {
            "rule_id": self.rule_id,
            "kind": self.family.value,
            "score": round(self.score, 4),
            "start": self.start,
            "end": self.end,
            "method": self.method.value,
        }
