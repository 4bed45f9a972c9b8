"""The rulebook's ``[matcher]`` section: thresholds, fillers, sound-alike groups, character folds."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from models.domain import RuleFamily
from models.rulebook_base import StrictSection


class SoundAlike(StrictSection):
    """Short wordings (exact pinyin otherwise) may have syllables differing by one sound of a group."""

    families: list[RuleFamily] = []
    min_syllables: int = Field(3, ge=2)  # shorter wordings stay exact
    max_differing: int = Field(1, ge=0)  # syllables of one wording that may differ
    initials: list[list[str]] = []
    finals: list[list[str]] = []


class MatcherThresholds(StrictSection):
    min_score_long: float = Field(0.78, gt=0, le=1)
    min_score_medium: float = Field(0.85, gt=0, le=1)
    long_min_syllables: int = Field(8, ge=2)
    short_max_syllables: int = Field(4, ge=1)
    regional_substitution_cost: float = Field(0.5, ge=0, le=1)
    regional_min_score: float = Field(0.85, gt=0, le=1)
    max_slot_syllables: int = Field(12, ge=1)
    min_part_syllables: int = Field(2, ge=1)
    classifier_min_probability: float = Field(0.6, gt=0, le=1)
    classifier_context_min_probability: float = Field(0.4, ge=0, le=1)
    classifier_families: list[RuleFamily] = [RuleFamily.FORBIDDEN, RuleFamily.COURTESY, RuleFamily.PHONE]
    classifier_min_chars: int = Field(6, ge=1)
    fillers: list[str] = []
    sound_alike: SoundAlike | None = None
    # Characters the Traditional→Simplified step keeps because they are Simplified too (Whisper
    # writes 你给我等著 for 等着): folded outside the words that keep them (著名, 显著).
    char_folds: dict[str, str] = {}
    char_fold_keeps: list[str] = []

    @field_validator("char_folds")
    @classmethod
    def _one_char_each(cls, value: dict[str, str]) -> dict[str, str]:
        for source, target in value.items():
            if len(source) != 1 or len(target) != 1:
                raise ValueError(f"a character fold maps one character to one: {source!r} -> {target!r}")
        return value

    @model_validator(mode="after")
    def _keeps_hold_a_fold(self) -> "MatcherThresholds":
        for word in self.char_fold_keeps:
            if not any(ch in self.char_folds for ch in word):
                raise ValueError(f"char_fold_keeps: {word!r} holds no folded character")
        return self
