"""Options of the hall simulator: the size of the hall and the generator's levels and shares."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from windowqa.demo.simulator.hall import WINDOWS


class SimulationError(ValueError):
    """Options or bank contents that cannot make a hall day; the message says which and why."""


# The mono demo's substitute (``windowqa demo --mono``): a voice of their own (WORLD resynthesis
# of the bank's staff voice, pitch 10 semitones down, envelope x1.1), which Whisper reads about as
# well as the bank's and voiceprints tell apart from both the staff and the citizen voices
# (windowqa/demo/README.md, "mono").
MONO_SUBSTITUTE_PITCH_ST = -10.0
MONO_SUBSTITUTE_FORMANTS = 1.1


@dataclass(frozen=True)
class HallSize:
    """How big the simulated hall is.

    Attributes:
        windows: service windows (4–8), one rostered staff member each.
        interactions: interactions per window per day (telephone calls included).
        days: consecutive working days.
    """

    windows: int = 4
    interactions: int = 12
    days: int = 1

    @classmethod
    def parse(cls, text: str) -> "HallSize":
        """A size from a preset name (``tiny``, ``small``, ``day``, ``week``) or ``WxN[xD]``.

        Raises:
            SimulationError: neither a preset nor ``WxN[xD]``, or out of range.
        """
        text = text.strip().lower()
        if text in SIZE_PRESETS:
            return SIZE_PRESETS[text]
        match = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", text)
        if not match:
            presets = ", ".join(SIZE_PRESETS)
            raise SimulationError(f"size {text!r}: expected one of {presets} or WINDOWSxINTERACTIONS[xDAYS], e.g. 6x12x2")
        size = cls(int(match[1]), int(match[2]), int(match[3] or 1))
        size.check()
        return size

    def check(self) -> None:
        if not 1 <= self.windows <= len(WINDOWS):
            raise SimulationError(f"windows must be 1..{len(WINDOWS)}, got {self.windows}")
        if not 1 <= self.interactions <= 60:
            raise SimulationError(f"interactions per window must be 1..60, got {self.interactions}")
        if not 1 <= self.days <= 20:
            raise SimulationError(f"days must be 1..20, got {self.days}")

    def __str__(self) -> str:
        return f"{self.windows}x{self.interactions}x{self.days}"


SIZE_PRESETS: dict[str, HallSize] = {
    "tiny": HallSize(windows=2, interactions=3, days=1),  # the CI end-to-end test
    "small": HallSize(windows=4, interactions=12, days=1),  # the default demo
    "day": HallSize(windows=6, interactions=16, days=1),
    "week": HallSize(windows=6, interactions=12, days=5),
}


@dataclass(frozen=True)
class SimOptions:
    """Options of the generator; stored in ``truth.json`` with the data they made.

    Attributes:
        seed: everything random derives from it.
        size: windows, interactions per window, days.
        first_day: the first simulated day (moved forward to a working day).
        snr_db: speech (each channel's own speaker) to hall-noise ratio.
        crosstalk_db: level of the other side's voice on a microphone, relative to its own.
        babble_share: fraction of the noise power that is distant voices (the rest is hiss).
        forbidden_share: fraction of served interactions in which staff use a forbidden phrase.
        no_greeting_share: fraction of served interactions without a greeting.
        no_farewell_share: fraction of served interactions without a farewell.
        phone_calls: telephone calls per window per day (part of ``size.interactions``).
        rating_share: fraction of served citizens who press the evaluation terminal.
        turn_pause_s: pause range when the speaker changes (staff to citizen or back).
        mono: each window recorded on one microphone (staff and citizen mixed into one channel)
            instead of the staff lapel plus the citizen-side microphone.
        mono_citizen_db: on the one microphone, the citizen's level relative to the staff
            member's (the microphone stands on the staff side of the counter).
        mono_turn_pause_s: pause range when the speaker changes on a mono recording (a
            conversation at one microphone: often under a second).
        substitute_pitch_st: the substitute's voice, semitones above (below, when negative)
            the bank's staff voice. The bank has one synthetic staff voice (staff differ only
            by a ±5 % resampling, which voiceprints cannot tell apart), so a substitute who is
            to be told apart by voice is given a voice of their own here (resynthesised,
            :func:`mixing.other_voice`); 0 with ``substitute_formant_ratio`` 1 keeps the drawn one.
        substitute_formant_ratio: the substitute's spectral envelope stretched by this
            (below 1: a deeper vocal tract).
        substitution_filed: the substitution is filed (备案) in the site file; False: the
            substitute serves without a filing (who is serving must notice).
        scenarios: scenarios the hall must hold, used in this order before any is drawn by
            weight (served ones for citizens, ``phone_*`` ones for calls), each ``name`` or
            ``name:variant`` (e.g. ``work_call:no_call_greeting``, ``ordinary:forbidden``; a
            conduct scenario named here gets exactly the variants named). A small hall (the CI demo) then exercises what it
            tests whatever the weights of the library are.
        situation_cover: a hall of at least this many interactions (windows x interactions x
            days) holds every 七.1 situation scenario and its look-alike at least once
            (``situations.SituationCover``); 0: drawn by weight alone.
    """

    seed: int = 7
    size: HallSize = field(default_factory=HallSize)
    first_day: date = date(2026, 3, 2)
    snr_db: float = 20.0
    crosstalk_db: float = -12.0
    babble_share: float = 0.3
    forbidden_share: float = 0.3
    no_greeting_share: float = 0.12
    no_farewell_share: float = 0.12
    phone_calls: int = 1
    rating_share: float = 0.85
    turn_pause_s: tuple[float, float] = (1.2, 2.4)
    mono: bool = False
    mono_citizen_db: float = -4.0
    mono_turn_pause_s: tuple[float, float] = (0.3, 1.0)
    substitute_pitch_st: float = 0.0
    substitute_formant_ratio: float = 1.0
    substitution_filed: bool = True
    scenarios: tuple[str, ...] = ()
    situation_cover: int = 16

    def check_scenarios(self) -> None:
        """Every named scenario and variant exists.

        Raises:
            SimulationError: an unknown scenario or variant name.
        """
        from windowqa.demo.simulator.scenarios import NAMED_VARIANTS, PHONE_SCENARIOS, SCENARIO_WEIGHTS

        names = (*SCENARIO_WEIGHTS, *PHONE_SCENARIOS)
        unknown = [s for s in self.scenarios if s.split(":", 1)[0] not in names]
        if unknown:
            raise SimulationError(f"unknown scenario(s) {unknown}: expected one of {', '.join(names)} (optionally :variant)")
        # a mistyped variant would silently give the scenario's other form
        odd = [s for s in self.scenarios if any(v not in NAMED_VARIANTS for v in s.split(":")[1:])]
        if odd:
            raise SimulationError(f"unknown variant in scenario(s) {odd}: expected one of {', '.join(NAMED_VARIANTS)}")

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["size"] = str(self.size)
        data["first_day"] = self.first_day.isoformat()
        data["turn_pause_s"] = list(self.turn_pause_s)
        data["mono_turn_pause_s"] = list(self.mono_turn_pause_s)
        data["scenarios"] = list(self.scenarios)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SimOptions":
        """The options as :meth:`as_json` wrote them.

        Raises:
            SimulationError: a size out of range.
            KeyError, TypeError, ValueError: a field missing, unknown or of the wrong form.
        """
        return cls(**{
            **data,
            "size": HallSize.parse(data["size"]),
            "first_day": date.fromisoformat(data["first_day"]),
            "turn_pause_s": tuple(data["turn_pause_s"]),
            # truths written before mono recordings existed have no mono fields: the defaults
            **({"mono_turn_pause_s": tuple(data["mono_turn_pause_s"])} if "mono_turn_pause_s" in data else {}),
            **({"scenarios": tuple(data["scenarios"])} if "scenarios" in data else {}),
            # truths written before the cover drew by weight alone
            **({} if "situation_cover" in data else {"situation_cover": 0}),
        })
