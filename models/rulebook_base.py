"""The rulebook's ground: the slot marker, the error, severities and the strict base of its sections."""

from __future__ import annotations

import enum
import re

from pydantic import BaseModel, ConfigDict

SLOT = "××"
# The seed writes slots as ××, XX or xx; keep one marker.
_SLOT_SPELLINGS = re.compile(r"(×\s*×|[xX]{2}|＊＊)")


class RulebookError(ValueError):
    """A rulebook file that cannot be used; the message names the file, the key and the reason."""


class Severity(str, enum.Enum):
    """A flag's severity level, mildest first; a rulebook's ``[scoring.severity]`` gives each its penalty."""

    MINOR = "minor"
    MAJOR = "major"
    SERIOUS = "serious"


class StrictSection(BaseModel):
    """A rulebook section: unknown keys are errors (a typo never passes silently), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def normalise_slots(text: str) -> str:
    """The seed's slot spellings (××, XX, xx) as the one marker."""
    return _SLOT_SPELLINGS.sub(SLOT, text)
