"""Scenarios of the 七.1 situations that call for a phrase, and look-alikes that must not trigger.

Six situations (issue 15, item 4), each in three forms: the phrase said (a strength), the phrase
missing (staff answer without it: variant ``no_phrase``) and, with the ``forbidden`` variant, a
forbidden phrase instead (also missing). The look-alike scenarios share words with the cues but
hold no situation: a citizen asking which materials to bring or whether a copy will do (and it
will), asking how to fill a form in, asking where to sign, staff working in silence after 请稍等
with the citizen asking how long, a legitimate priority, a proxy with the right papers.

Every line is a bank line (``windowqa/demo/bank/lines.tsv``); a body writes the whole middle of
an interaction (its opening citizen line too) and returns the situations it holds as
``{rule id: phrase said}``, which the truth records per interaction (``TruthInteraction.situations``).
Bodies take the scenario module's writer (``say``/``pick``/``rng``), imported from nowhere here
to keep the two modules free of a cycle.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from models.domain import Role
from windowqa.demo.simulator.conduct import CONDUCT_WEIGHTS

S, C = Role.STAFF, Role.CITIZEN

# The 七.1 rule each situation scenario calls for.
SITUATION_RULES = {
    "wrong_window": "courtesy.wrong_window",
    "form_error": "courtesy.form_error",
    "materials_invalid": "courtesy.materials_invalid",
    "cannot_satisfy": "courtesy.cannot_satisfy",
    "queue_jumper": "courtesy.queue",
    "staff_called_away": "courtesy.urgent_leave",
}
# How often each look-alike occurs among served interactions (weights next to scenarios.SCENARIO_WEIGHTS).
LOOKALIKE_WEIGHTS = {
    "lookalike_materials_ok": 1,
    "lookalike_form_question": 1,
    "lookalike_where": 1,
    "lookalike_wait": 1,
    "lookalike_priority": 1,
    "lookalike_proxy": 1,
}
# What a hall of SimOptions.situation_cover interactions or more holds at least once: every
# situation and every look-alike (drawn by weight alone, a situation is missing from about half
# of the 2x8 halls, a look-alike from about three in four).
COVERED_SCENARIOS = (*SITUATION_RULES, *LOOKALIKE_WEIGHTS)
# drawn scenarios that give way to a missing covered one first (besides any repeat in the hall)
COVER_FILLERS = ("ordinary",)
# scenarios whose first occurrence in a hall never gives way: the other items of issue 15 (calls
# while serving, retorts) need their positives in the same small halls
COVER_KEEPS = tuple(CONDUCT_WEIGHTS)
# Of the situation interactions without a forbidden phrase, the share where staff leave the phrase out.
NO_PHRASE_SHARE = 0.4
# Staff away from the counter (staff_called_away): the pauses around the citizen's line, in s.
AWAY_PAUSE_S = (10.0, 16.0)
# Staff working quietly after 请稍等 (lookalike_wait).
WORKING_PAUSE_S = (6.0, 10.0)

Body = Callable[[Any, bool], dict[str, bool]]


class SituationCover:
    """Makes a hall hold each of :data:`COVERED_SCENARIOS` at least once (``SimOptions.situation_cover``).

    A drawn served scenario gives way to a covered one the hall still lacks when it is a filler
    (:data:`COVER_FILLERS`) or a repeat of one already in the hall, or when no more served
    interactions are left than covered scenarios missing. Situations come before look-alikes;
    the first of each kind of :data:`COVER_KEEPS` gives way only to a situation, so a hall too
    small for all (a 2x8 hall has 14 served) may lack a look-alike. Which missing one comes from a
    generator of its own (the hall's generator draws as before; the scripts that follow differ).

    Args:
        seed: the hall's seed.
        served: the hall's served interactions in all.
        active: the hall is big enough to be covered.
    """

    def __init__(self, seed: int, served: int, active: bool) -> None:
        on = active and served >= len(COVERED_SCENARIOS)
        self.situations = list(SITUATION_RULES) if on else []
        self.lookalikes = list(LOOKALIKE_WEIGHTS) if on else []
        self.left = served
        self.seen: set[str] = set()
        self.rng = random.Random(f"situation-cover-{seed}")

    def choose(self, drawn: str, named: bool = False) -> str:
        """The scenario of the next served interaction, ``drawn`` by weight (or ``named`` by the options)."""
        missing = self.situations + self.lookalikes
        must_situation = self.left <= len(self.situations)
        must = self.left <= len(missing) and not (drawn in COVER_KEEPS and drawn not in self.seen)
        self.left -= 1
        if not named and missing and drawn not in missing and (drawn in COVER_FILLERS or drawn in self.seen or must or must_situation):
            pool = self.situations or self.lookalikes
            drawn = pool[self.rng.randrange(len(pool))]
        self.seen.add(drawn)
        for pool in (self.situations, self.lookalikes):
            if drawn in pool:
                pool.remove(drawn)
        return drawn


def _line(w, speaker: Role, *ids: str, pause: tuple[float, float] = (0.6, 1.4), note: str = "") -> None:
    w.say(speaker, w.pick(speaker, "any", ids=ids), pause, note)


def _missing(w, bad: bool) -> bool:
    """Whether the phrase is left out (always with a forbidden phrase; else at NO_PHRASE_SHARE)."""
    return bad or w.rng.random() < NO_PHRASE_SHARE


def _wrong_window(w, bad: bool) -> dict[str, bool]:
    missing = _missing(w, bad)
    # when the phrase is missing, the citizen's words must show the wrong window (01 alone asks)
    _line(w, C, *(("c_wrong_window_02", "c_wrong_window_03", "c_wrong_window_04") if missing else
                  ("c_wrong_window_01", "c_wrong_window_02", "c_wrong_window_03", "c_wrong_window_04")))
    if bad:
        w.say(S, w.pick(S, "wrong_window", rule=w.rng.choice(("forbidden.ask_someone_else", "forbidden.not_our_window"))))
    elif missing:
        _line(w, S, "s_wrong_window_01", "s_wrong_window_02")
    else:
        _line(w, S, "s_wrong_window_07", "s_wrong_window_08", "s_wrong_window_09", "s_wrong_window_10")
    _line(w, C, "c_ordinary_06")
    return {"courtesy.wrong_window": not missing}


def _form_error(w, bad: bool) -> dict[str, bool]:
    missing = _missing(w, bad)
    _line(w, C, "c_form_error_01", "c_ordinary_03")
    _line(w, S, "s_any_23", "s_any_32", "s_any_18")
    if bad:
        _line(w, C, "c_form_error_02")
        w.say(S, w.pick(S, "form_error", rule="forbidden.already_told"))
    elif missing:
        _line(w, C, "c_form_error_02")
        _line(w, S, "s_form_error_02")
    else:
        _line(w, S, "s_form_error_03", "s_form_error_04")
    _line(w, C, "c_form_error_03", "c_form_error_04")
    return {"courtesy.form_error": not missing}


def _materials_invalid(w, bad: bool) -> dict[str, bool]:
    missing = _missing(w, bad)
    _line(w, C, "c_ordinary_03", "c_materials_invalid_01", "c_materials_returned_03")
    if bad:
        w.say(S, w.pick(S, "materials_invalid", rule="forbidden.incomplete_papers"))
    elif missing:
        _line(w, S, "s_materials_invalid_01")
    else:
        _line(w, S, "s_materials_invalid_03", "s_materials_invalid_04", "s_materials_invalid_05")
    _line(w, C, "c_materials_invalid_02", "c_materials_invalid_03", "c_materials_invalid_04")
    return {"courtesy.materials_invalid": not missing}


def _cannot_satisfy(w, bad: bool) -> dict[str, bool]:
    missing = _missing(w, bad)
    _line(w, C, "c_ordinary_10", "c_ordinary_02")
    _line(w, S, "s_any_29", "s_any_20")
    _line(w, C, "c_cannot_satisfy_01", "c_cannot_satisfy_02", "c_cannot_satisfy_03")
    if bad:
        w.say(S, w.pick(S, "cannot_satisfy", rule=w.rng.choice(("forbidden.go_to_leader", "forbidden.who_decides"))))
    elif missing:
        _line(w, S, "s_cannot_satisfy_03")
    else:
        _line(w, S, "s_cannot_satisfy_04", "s_cannot_satisfy_05")
    _line(w, C, "c_ordinary_06", "c_cannot_satisfy_03")
    return {"courtesy.cannot_satisfy": not missing}


def _queue_jumper(w, bad: bool) -> dict[str, bool]:
    missing = _missing(w, bad)
    w.say(C, w.pick(C, "ordinary", neutral=True))
    w.say(S, w.pick(S, "any", neutral=True))
    # a second citizen pushes in at the counter (heard on the citizen microphone)
    _line(w, C, "c_queue_jumper_01", "c_queue_jumper_02", "c_queue_jumper_03", note="queue_jumper")
    if bad:
        w.say(S, w.pick(S, "queue_jumper", rule="forbidden.impatient"))
    elif missing:
        w.say(S, w.pick(S, "any", neutral=True))
    else:
        _line(w, S, "s_queue_jumper_02", "s_queue_jumper_03")
    _line(w, C, "c_queue_jumper_04", "c_queue_jumper_05")
    w.say(S, w.pick(S, "any", neutral=True))
    return {"courtesy.queue": not missing}


def _staff_called_away(w, bad: bool) -> dict[str, bool]:
    # 七.3 has no forbidden phrase for this situation: the forbidden variant leaves the phrase out
    missing = _missing(w, bad)
    w.say(C, w.pick(C, "ordinary", neutral=True))
    w.say(S, w.pick(S, "any", neutral=True))
    if not missing:
        _line(w, S, "s_staff_called_away_01", "s_staff_called_away_02")
    # staff away: the citizen waits at the counter, says something, staff come back
    _line(w, C, "c_staff_called_away_01", "c_staff_called_away_02", pause=AWAY_PAUSE_S)
    _line(w, S, "s_staff_called_away_04", pause=AWAY_PAUSE_S)
    w.say(S, w.pick(S, "any", neutral=True))
    return {"courtesy.urgent_leave": not missing}


def _lookalike_materials_ok(w, bad: bool) -> dict[str, bool]:
    _line(w, C, "c_ordinary_04", "c_materials_invalid_01")  # asks which materials, or whether a copy will do
    _line(w, S, "s_any_20", "s_any_21", "s_any_26")
    _line(w, C, "c_ordinary_03", "c_materials_returned_03")
    _line(w, S, "s_any_21", "s_any_31")
    return {}


def _lookalike_form_question(w, bad: bool) -> dict[str, bool]:
    _line(w, C, "c_form_error_01")  # how to fill the form in: no form filled wrongly
    _line(w, S, "s_any_32", "s_any_18", "s_any_26")
    _line(w, C, "c_ordinary_07", "c_ordinary_05")
    _line(w, S, "s_any_17", "s_any_35")
    return {}


def _lookalike_where(w, bad: bool) -> dict[str, bool]:
    _line(w, C, "c_ordinary_08", "c_ordinary_12", "c_ordinary_11")  # the right window
    _line(w, S, "s_any_41", "s_any_40", "s_any_20", "s_any_27")
    _line(w, C, "c_ordinary_07")
    _line(w, S, "s_any_17", "s_any_18")
    return {}


def _lookalike_wait(w, bad: bool) -> dict[str, bool]:
    w.say(C, w.pick(C, "ordinary", neutral=True))
    _line(w, S, "s_any_11", "s_any_12")  # 请稍等, then staff work quietly at the counter
    _line(w, C, "c_staff_called_away_02", pause=WORKING_PAUSE_S)
    _line(w, S, "s_any_45", "s_any_35", "s_any_28")
    return {}


def _lookalike_priority(w, bad: bool) -> dict[str, bool]:
    _line(w, C, "c_ordinary_12", "c_ordinary_02")
    _line(w, S, "s_queue_jumper_01")  # a legitimate priority, nobody pushing in
    _line(w, C, "c_long_wait_03", "c_ordinary_05")
    _line(w, S, "s_any_35", "s_any_22")
    return {}


def _lookalike_proxy(w, bad: bool) -> dict[str, bool]:
    _line(w, C, "c_ordinary_10")  # on behalf of a parent, with the papers it takes
    _line(w, S, "s_any_30")
    _line(w, C, "c_ordinary_03")
    _line(w, S, "s_any_21", "s_any_31")
    return {}


SITUATION_BODIES: dict[str, Body] = {
    "wrong_window": _wrong_window,
    "form_error": _form_error,
    "materials_invalid": _materials_invalid,
    "cannot_satisfy": _cannot_satisfy,
    "queue_jumper": _queue_jumper,
    "staff_called_away": _staff_called_away,
    "lookalike_materials_ok": _lookalike_materials_ok,
    "lookalike_form_question": _lookalike_form_question,
    "lookalike_where": _lookalike_where,
    "lookalike_wait": _lookalike_wait,
    "lookalike_priority": _lookalike_priority,
    "lookalike_proxy": _lookalike_proxy,
}

__all__ = ["COVERED_SCENARIOS", "LOOKALIKE_WEIGHTS", "NO_PHRASE_SHARE", "SITUATION_BODIES", "SITUATION_RULES", "SituationCover"]
