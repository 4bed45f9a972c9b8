"""The scenario library: scripts of whole interactions, written from the committed utterance bank.

A script is the order of lines in one interaction (who says which bank line, after which pause);
:mod:`~windowqa.demo.simulator.recordings` places scripts in time. Which scenario and which
variants (a forbidden phrase, no greeting, no farewell) an interaction gets is drawn here too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from models.domain import Role
from windowqa.demo import BankLine
from windowqa.demo.simulator import conduct
from windowqa.demo.simulator.options import SimOptions, SimulationError
from windowqa.demo.simulator.situations import LOOKALIKE_WEIGHTS, SITUATION_BODIES

# Which forbidden rules a scenario's "bad" variant draws its staff line from (seed wording and
# paraphrases are both in the bank under that scenario).
FORBIDDEN_BY_SCENARIO = {
    "ordinary": ("forbidden.look_it_up", "forbidden.already_told"),
    "long_wait": ("forbidden.come_tomorrow", "forbidden.impatient"),
    "wrong_window": ("forbidden.ask_someone_else", "forbidden.not_our_window"),
    "form_error": ("forbidden.already_told",),
    "materials_invalid": ("forbidden.incomplete_papers",),
    "cannot_satisfy": ("forbidden.go_to_leader", "forbidden.who_decides"),
    "queue_jumper": ("forbidden.impatient",),
    "citizen_abuse": ("forbidden.go_to_leader",),
}
# The prescribed courtesy of each scenario's situation (what the good variant says).
COURTESY_BY_SCENARIO = {
    "long_wait": ("courtesy.sorry_for_wait",),
    "wrong_window": ("courtesy.wrong_window",),
    "form_error": ("courtesy.form_error",),
    "materials_returned": ("courtesy.return_materials",),
    "queue_jumper": ("courtesy.queue",),
    "staff_called_away": ("courtesy.urgent_leave",),
    "materials_invalid": ("courtesy.materials_invalid",),
    "cannot_satisfy": ("courtesy.cannot_satisfy",),
}
# The bank's citizen lines that insult staff (the other citizen_abuse lines are complaints and
# demands, which are not abuse): every citizen_abuse interaction has one of them.
INSULTS = ("c_citizen_abuse_04", "c_citizen_abuse_05", "c_citizen_abuse_06")
# How often each served scenario occurs (weights).
SCENARIO_WEIGHTS = {
    "ordinary": 6,
    "long_wait": 2,
    "wrong_window": 2,
    "form_error": 2,
    "materials_returned": 2,
    "queue_jumper": 2,
    "staff_called_away": 2,
    "materials_invalid": 2,
    "cannot_satisfy": 2,
    "citizen_abuse": 1,
    **conduct.CONDUCT_WEIGHTS,  # issue 15: calls while serving, retorts
    **LOOKALIKE_WEIGHTS,  # 七.1 look-alikes (situations.py)
}
PHONE_SCENARIOS = ("phone_incoming", "phone_transfer", "phone_wrong_number", "phone_outgoing", *conduct.PHONE_CONDUCT_SCENARIOS)
# variants a scenario named in SimOptions.scenarios may carry (``name:variant``)
NAMED_VARIANTS = ("forbidden", "no_greeting", "no_farewell", *conduct.CONDUCT_VARIANTS)

S, C = Role.STAFF, Role.CITIZEN


@dataclass
class Turn:
    """One line in a scripted interaction, before it is placed in time."""

    line: BankLine
    speaker: Role
    pause_before_s: float
    note: str = ""  # e.g. "queue_jumper" for a second citizen


@dataclass
class Script:
    """The lines of one interaction, in order."""

    scenario: str
    variants: list[str]
    turns: list[Turn]
    served: bool
    long_wait: bool = False
    conduct: list[str] = field(default_factory=list)  # the conduct flags it must raise (simulator.conduct)
    situations: dict[str, bool] = field(default_factory=dict)  # 七.1 situations held: rule id -> phrase said
    # the queue ticket's 事项 when the script decides it (None: the window's own matter; conduct.OTHER_MATTER:
    # another window's, for a citizen at the wrong window)
    matter: str | None = None


class Library:
    """The bank's lines indexed for the scenario scripts."""

    def __init__(self, lines: list[BankLine]) -> None:
        self.lines = lines
        self.by_id = {line.id: line for line in lines}

    def pick(self, rng: random.Random, speaker: Role, scenario: str, *, rule: str | None = None,
             neutral: bool = False, ids: tuple[str, ...] = ()) -> BankLine:
        """A random line of ``speaker`` for ``scenario`` (``any`` lines too when neutral).

        ``rule`` picks lines that must produce that rule; ``neutral`` picks lines with no rule at
        all (also no optional one); ``ids`` restricts to named lines.
        """
        pool = [
            line for line in self.lines
            if line.speaker is speaker
            and (not ids or line.id in ids)
            and (ids or line.scenario == scenario or (neutral and line.scenario == "any"))
            and (rule is None or rule in line.expected)
            and (not neutral or not (line.expected or line.optional))
        ]
        if not pool:
            raise SimulationError(f"the bank has no {speaker.value} line for {scenario} (rule {rule}, neutral {neutral})")
        return rng.choice(pool)


@dataclass
class _Writer:
    """The turns of one script as they are written (every draw from the one generator, in order)."""

    lib: Library
    rng: random.Random
    turns: list[Turn] = field(default_factory=list)

    def pick(self, speaker: Role, scenario: str, **how) -> BankLine:
        return self.lib.pick(self.rng, speaker, scenario, **how)

    def say(self, speaker: Role, line: BankLine, pause: tuple[float, float] = (0.6, 1.4), note: str = "") -> None:
        self.turns.append(Turn(line, speaker, self.rng.uniform(*pause), note))

    def neutral_staff(self) -> BankLine:
        return self.pick(S, "any", neutral=True)


def script(lib: Library, rng: random.Random, scenario: str, variants: list[str], named: list[str] | None = None) -> Script:
    """The lines of one interaction of ``scenario`` with ``variants`` (forbidden, no_greeting, no_farewell).

    ``named``: variants the options name: a conduct scenario's own (exactly these; None: drawn),
    or more of the others (e.g. ``forbidden``).

    Raises:
        SimulationError: an unknown scenario, or a bank without a line the script needs.
    """
    if scenario.startswith("phone_"):
        return _phone_script(lib, rng, scenario)
    if scenario in conduct.CONDUCT_WEIGHTS:
        return _conduct_script(lib, rng, scenario, [v for v in variants if v != "forbidden"], named)
    if scenario not in _BODIES and scenario not in SITUATION_BODIES:
        raise SimulationError(f"unknown scenario {scenario!r}")
    variants = [*variants, *(v for v in named or () if v not in variants)]
    w = _Writer(lib, rng)
    long_wait = scenario == "long_wait"
    bad = "forbidden" in variants
    # Opening: the greeting (or, after a long wait, the apology that may carry the greeting).
    if long_wait and not bad:
        w.say(S, w.pick(S, "long_wait", rule="courtesy.sorry_for_wait", ids=("s_long_wait_04", "s_long_wait_05")), (0.5, 1.0))
        if "no_greeting" not in variants:
            w.say(S, w.pick(S, "any", rule="courtesy.greet"), (0.3, 0.6))
    elif "no_greeting" not in variants:
        w.say(S, w.pick(S, "any", rule="courtesy.greet"), (0.5, 1.0))
    situations: dict[str, bool] = {}
    if scenario in SITUATION_BODIES:  # the 七.1 situations and their look-alikes write their own opening
        situations = SITUATION_BODIES[scenario](w, bad)
        if not all(situations.values()) and not bad:
            variants = [*variants, "no_phrase"]
    else:
        citizen_scenario = scenario if scenario not in ("materials_returned", "citizen_abuse") else "ordinary"
        w.say(C, w.pick(C, citizen_scenario, neutral=True))
        _BODIES[scenario](w, scenario, bad)
    if "no_farewell" not in variants:
        w.say(S, w.pick(S, "any", rule="courtesy.farewell"))
        if rng.random() < 0.5:
            w.say(C, w.pick(C, "ordinary", ids=("c_ordinary_06", "c_ordinary_09")), (0.4, 0.9))
    matter = conduct.OTHER_MATTER if situations.get("courtesy.wrong_window") is not None else None
    return Script(scenario, variants, w.turns, served=True, long_wait=long_wait, situations=situations, matter=matter)


def _ordinary(w: _Writer, scenario: str, bad: bool) -> None:
    w.say(S, w.neutral_staff())
    w.say(C, w.pick(C, "ordinary", neutral=True))
    if bad:
        w.say(S, w.pick(S, "ordinary", rule=w.rng.choice(FORBIDDEN_BY_SCENARIO["ordinary"])))
        w.say(C, w.pick(C, "ordinary", neutral=True))
    w.say(S, w.pick(S, "any", rule="courtesy.please_wait"))
    w.turns[-1].pause_before_s = w.rng.uniform(0.6, 1.2)
    w.say(S, w.neutral_staff(), (6.0, 12.0))  # staff working in silence after 请稍等


def _long_wait(w: _Writer, scenario: str, bad: bool) -> None:
    if bad:
        w.say(S, w.pick(S, "long_wait", rule=w.rng.choice(FORBIDDEN_BY_SCENARIO["long_wait"])))
        w.say(C, w.pick(C, "long_wait", neutral=True))
    w.say(S, w.neutral_staff())
    w.say(C, w.pick(C, "ordinary", neutral=True))
    w.say(S, w.neutral_staff())


def _materials_returned(w: _Writer, scenario: str, bad: bool) -> None:
    w.say(S, w.pick(S, "any", neutral=True))
    w.say(C, w.pick(C, "materials_returned", neutral=True))
    w.say(S, w.pick(S, "any", rule="courtesy.please_wait"))
    w.say(S, w.neutral_staff(), (5.0, 10.0))
    w.say(S, w.pick(S, "materials_returned", rule="courtesy.return_materials"))
    w.say(C, w.pick(C, "materials_returned", neutral=True))


def _citizen_abuse(w: _Writer, scenario: str, bad: bool) -> None:
    w.say(S, w.neutral_staff())
    w.say(C, w.pick(C, "citizen_abuse", ids=INSULTS))  # an insult (二.7), then a complaint or more
    if bad:
        w.say(S, w.pick(S, "citizen_abuse", rule="forbidden.go_to_leader"))
    else:
        w.say(S, w.pick(S, "citizen_abuse", neutral=True))
    w.say(C, w.pick(C, "citizen_abuse", neutral=True))
    w.say(S, w.pick(S, "citizen_abuse", neutral=True))


# The middle of each served scenario, between the citizen's opening line and the farewell (the 七.1
# situations and their look-alikes: situations.SITUATION_BODIES).
_BODIES: dict[str, Callable[[_Writer, str, bool], None]] = {
    "ordinary": _ordinary,
    "long_wait": _long_wait,
    "materials_returned": _materials_returned,
    "citizen_abuse": _citizen_abuse,
}


def _conduct_script(lib: Library, rng: random.Random, scenario: str, variants: list[str], named: list[str] | None) -> Script:
    """A served scenario of :mod:`.conduct`: greeting, the citizen's matter, the call or retort, farewell."""
    w = _Writer(lib, rng)
    drawn = conduct.draw_conduct_variants(rng, scenario)
    variants = [*variants, *(drawn if named is None else named)]
    if "no_greeting" not in variants:
        w.say(S, w.pick(S, "any", rule="courtesy.greet"), (0.5, 1.0))
    opening = lib.by_id[conduct.ASKS_FOR_LICENCE] if scenario == "work_call" else w.pick(C, "ordinary", neutral=True)
    w.say(C, opening)
    expected = conduct.conduct_body(w, scenario, variants)
    if "no_farewell" not in variants:
        w.say(S, w.pick(S, "any", rule="courtesy.farewell"))
    matter = conduct.WORK_CALL_MATTER if scenario == "work_call" else None
    return Script(scenario, variants, w.turns, served=True, conduct=expected, matter=matter,
                  situations=dict(conduct.CONDUCT_SITUATIONS.get(scenario, {})))


def _phone_script(lib: Library, rng: random.Random, scenario: str) -> Script:
    """A telephone call at the window: only the staff side is on the window microphones."""
    w = _Writer(lib, rng)
    if scenario in conduct.PHONE_CONDUCT_SCENARIOS:
        return Script(scenario, [], w.turns, served=False, conduct=conduct.phone_conduct_script(w))

    def say(line: BankLine, pause: tuple[float, float] = (1.5, 3.0)) -> None:
        w.say(S, line, pause, "phone")

    if scenario == "phone_outgoing":
        say(w.pick(S, "phone_outgoing", rule="phone.outgoing"), (0.5, 1.0))
    else:
        say(w.pick(S, "phone_incoming", rule="phone.greet"), (0.5, 1.0))
        if scenario == "phone_incoming":
            say(w.pick(S, "phone_incoming", rule="phone.redirect", ids=("s_phone_incoming_06", "s_phone_incoming_07")))
        elif scenario == "phone_transfer":
            say(w.pick(S, "phone_transfer", rule="phone.absent"))
            say(w.pick(S, "phone_transfer", rule="phone.take_message"))
        elif scenario == "phone_wrong_number":
            say(w.pick(S, "phone_wrong_number", rule="phone.wrong_number"))
    return Script(scenario, [], w.turns, served=False)


def draw_scenario(rng: random.Random) -> str:
    """A served scenario, drawn by :data:`SCENARIO_WEIGHTS`."""
    names = list(SCENARIO_WEIGHTS)
    return rng.choices(names, weights=[SCENARIO_WEIGHTS[n] for n in names])[0]


def plan_variants(rng: random.Random, n: int, options: SimOptions) -> list[list[str]]:
    """Variants per served interaction: exact shares (rounded), placed at random."""
    plans: list[list[str]] = [[] for _ in range(n)]
    for name, share in (("forbidden", options.forbidden_share), ("no_greeting", options.no_greeting_share),
                        ("no_farewell", options.no_farewell_share)):
        count = int(round(share * n))
        for i in rng.sample(range(n), min(n, count)):
            plans[i].append(name)
    return plans
