"""Scenarios of issue 15's conduct checks, and the repeat visits of the queue data.

Served scenarios (a citizen at the counter) with a telephone call or a retort in them, each
with the conduct flags it must raise (``TruthInteraction.conduct``) or, for the look-alikes,
must not:

* ``personal_call``: staff answer or place a call while serving, about nothing the citizen came
  for (二.4) -> ``personal_call``;
* ``work_call``: a call about the citizen's 营业执照, announced to the citizen (must not count as
  personal); answered with 喂 and no greeting -> ``telephone:phone.greet`` (七.2.1);
* ``excused_call``: an urgent call that staff excuse first (二.4 allows it) -> no conduct flag; the
  excuse is the 七.1.10 phrase in its situation (staff stop serving for an urgent matter): a strength;
* ``retort``: staff answer a citizen's insult with abuse (二.7) -> ``retort`` linked to the insult;
  unprovoked (variant ``unprovoked``) -> ``retort`` with no link.

A telephone interaction ``phone_no_greeting`` (answered with 喂) -> ``telephone:phone.greet``; the
other telephone scenarios (greeting, redirect, message, wrong number, outgoing) are its look-alikes.

Every line is a committed bank line in its speaker's voice: staff retorts (``retort``), staff's
private calls (``personal_call``) and calls answered with 喂 but no greeting are staff lines of the
bank. A work call's ticket names the matter the citizen and the call talk about (企业开办).
"""

from __future__ import annotations

import random

from models.domain import Role
from windowqa.demo.simulator.hall import WINDOWS
from windowqa.demo.simulator.truth import HallTruth, TruthRepeatVisit

S, C = Role.STAFF, Role.CITIZEN

# Served scenarios of this module and how often they are drawn (next to scenarios.SCENARIO_WEIGHTS).
CONDUCT_WEIGHTS = {"personal_call": 4, "work_call": 4, "excused_call": 2, "retort": 4}
PHONE_CONDUCT_SCENARIOS = ("phone_no_greeting",)
# the variants of the conduct scenarios (draw_conduct_variants), which a named one may carry
CONDUCT_VARIANTS = ("no_call_greeting", "unprovoked")
# The 七.1 situations a conduct scenario holds (rule id -> phrase said), as situations.py's bodies return them.
CONDUCT_SITUATIONS = {"excused_call": {"courtesy.urgent_leave": True}}

# the staff retorts (each a forbidden.retort line) and a private call's staff lines (nothing of the citizen's matter)
RETORT_LINES = ("s_retort_01", "s_retort_02", "s_retort_03", "s_retort_04", "s_retort_05")
PRIVATE_LINES = ("s_personal_call_01", "s_personal_call_02", "s_personal_call_03", "s_personal_call_04")
# calls answered with 喂 and no greeting: about the citizen's 营业执照 (work), or any call
WORK_ANSWERS = ("s_phone_incoming_04", "s_phone_incoming_12", "s_phone_incoming_13")
PLAIN_ANSWERS = ("s_phone_incoming_04", "s_phone_incoming_10", "s_phone_incoming_11")
WORK_CALL_MATTER = "企业开办"  # the queue's 事项 of a citizen who came for a 营业执照
OTHER_MATTER = "<another window>"  # a ticket for another window's matter (a citizen at the wrong window)
ASKS_FOR_LICENCE = "c_ordinary_01"  # 你好，我想办一下营业执照
WORK_CALL_ANNOUNCED = "s_wrong_window_02"  # 我也不确定，我打个电话问一下业务科
EXCUSE = ("s_staff_called_away_01", "s_staff_called_away_02")
BACK_FROM_CALL = "s_staff_called_away_04"  # 对不起，让您久等了，我们接着办
CALL_PAUSE_S = (1.8, 3.2)  # the caller speaks in between (not on the window microphones)


def conduct_body(w, scenario: str, variants: list[str]) -> list[str]:
    """Write the middle of a conduct scenario with the script writer ``w``; returns the flags it must raise.

    ``w`` is :class:`~windowqa.demo.simulator.scenarios._Writer` (its ``say``/``pick``), after the
    greeting and the citizen's first line.
    """
    by_id = w.lib.by_id
    rng = w.rng
    if scenario == "personal_call":
        w.say(S, w.neutral_staff())
        opening = rng.choice([w.pick(S, "phone_incoming", rule="phone.greet"), w.pick(S, "phone_outgoing", rule="phone.outgoing")])
        w.say(S, opening, (2.0, 4.0), "phone")
        w.say(S, w.pick(S, "personal_call", ids=PRIVATE_LINES), CALL_PAUSE_S, "phone")
        w.say(C, w.pick(C, "staff_called_away", ids=("c_staff_called_away_01", "c_staff_called_away_02")), (2.0, 3.5))
        w.say(S, w.neutral_staff())
        return ["personal_call"]
    if scenario == "work_call":
        greeted = "no_call_greeting" not in variants
        w.say(S, w.neutral_staff())
        if "no_call_greeting" not in variants and rng.random() < 0.5:  # staff call the back office about the citizen's case
            w.say(S, by_id[WORK_CALL_ANNOUNCED])
            w.say(S, w.pick(S, "phone_outgoing", rule="phone.outgoing"), (2.0, 3.5), "phone")
            w.say(S, w.pick(S, "phone_incoming", ids=WORK_ANSWERS), CALL_PAUSE_S, "phone")
            expected: list[str] = []
            variants.append("outgoing")
        else:  # the back office calls about it
            if greeted:
                w.say(S, w.pick(S, "phone_incoming", rule="phone.greet"), (2.0, 4.0), "phone")
            w.say(S, w.pick(S, "phone_incoming", ids=WORK_ANSWERS), CALL_PAUSE_S if greeted else (2.0, 4.0), "phone")
            expected = [] if greeted else ["telephone:phone.greet"]
        w.say(C, w.pick(C, "ordinary", neutral=True, ids=("c_ordinary_05", "c_ordinary_06", "c_ordinary_07")), (2.0, 3.5))
        w.say(S, w.neutral_staff())
        return expected
    if scenario == "excused_call":
        w.say(S, w.neutral_staff())
        w.say(S, w.pick(S, "staff_called_away", ids=EXCUSE))
        w.say(S, w.pick(S, "phone_incoming", rule="phone.greet"), (2.0, 4.0), "phone")
        w.say(S, w.pick(S, "personal_call", ids=PRIVATE_LINES), CALL_PAUSE_S, "phone")
        w.say(C, by_id["c_staff_called_away_03"], (2.0, 3.5))
        w.say(S, by_id[BACK_FROM_CALL])
        return []
    if scenario == "retort":
        w.say(S, w.neutral_staff())
        provoked = "unprovoked" not in variants
        if provoked:
            w.say(C, w.pick(C, "citizen_abuse", ids=("c_citizen_abuse_04", "c_citizen_abuse_05")))
        else:
            w.say(C, w.pick(C, "long_wait", neutral=True, ids=("c_long_wait_02", "c_long_wait_04")))
        w.say(S, w.pick(S, "retort", ids=RETORT_LINES))
        w.say(C, w.pick(C, "citizen_abuse", ids=("c_citizen_abuse_01", "c_citizen_abuse_03")))
        w.say(S, w.pick(S, "citizen_abuse", neutral=True))
        return ["retort:provoked" if provoked else "retort"]
    raise ValueError(f"not a conduct scenario: {scenario}")


def draw_conduct_variants(rng: random.Random, scenario: str) -> list[str]:
    """The look-alike or positive form of a conduct scenario."""
    if scenario == "work_call" and rng.random() < 0.4:
        return ["no_call_greeting"]
    if scenario == "retort" and rng.random() < 0.35:
        return ["unprovoked"]
    return []


def phone_conduct_script(w) -> list[str]:
    """A call answered with 喂 and no greeting (七.2.1), then the redirect; returns the flags it must raise."""
    w.say(S, w.pick(S, "phone_incoming", ids=PLAIN_ANSWERS), (0.5, 1.0), "phone")
    w.say(S, w.pick(S, "phone_incoming", rule="phone.redirect", ids=("s_phone_incoming_06", "s_phone_incoming_07")), (1.5, 3.0), "phone")
    return ["telephone:phone.greet"]


# ---------------------------------------------------------------------------- repeat visits

def assign_citizens(truth: HallTruth, seed: int) -> None:
    """Give every queue call a matter (the script's, else the window's) and a made-up citizen ID; make some citizens come back.

    Per window and day: one citizen of the morning returns in the afternoon for the same matter
    (八.3/八.4: must be flagged against the morning's staff member), and one comes back in the
    afternoon for another matter (at another window, or at the same window with another 事项):
    must not be flagged.
    """
    rng = random.Random(seed * 7919 + 15)  # its own generator: the rest of the hall stays as it was
    names = {w.code: w.name for w in truth.windows}
    by_id = {i.id: i for i in truth.interactions}
    for call in truth.queue_calls:
        inter = by_id[call.interaction]
        if inter.matter == OTHER_MATTER:  # the ticket was for a matter another window handles
            inter.matter = rng.choice([name for _code, name, _d, _dn in WINDOWS if name != names[call.window]])
        call.matter = inter.matter or names[call.window]
        call.citizen_id = "".join(str(rng.randint(0, 9)) for _ in range(17)) + rng.choice("0123456789X")
    halves: dict[tuple[str, str, str], list] = {}
    for call in truth.queue_calls:
        inter = by_id[call.interaction]
        half = "am" if inter.recording.endswith("-am") else "pm"
        halves.setdefault((call.window, call.called_at.date().isoformat(), half), []).append(call)
    windows = [w.code for w in truth.windows]
    for day in truth.days:
        for code in windows:
            morning = list(halves.get((code, day.isoformat(), "am"), []))
            afternoon = list(halves.get((code, day.isoformat(), "pm"), []))
            rng.shuffle(morning)
            rng.shuffle(afternoon)
            if len(morning) >= 1 and len(afternoon) >= 1:
                first, back = morning.pop(), afternoon.pop()
                back.citizen_id, back.matter = first.citizen_id, first.matter
                truth.repeat_visits.append(TruthRepeatVisit(first.interaction, back.interaction, first.matter, True))
            if len(morning) >= 1 and len(afternoon) >= 1:
                first, back = morning.pop(), afternoon.pop()
                back.citizen_id = first.citizen_id
                back.matter = f"{first.matter}咨询" if back.matter == first.matter else back.matter
                truth.repeat_visits.append(TruthRepeatVisit(first.interaction, back.interaction, back.matter, False))
    for call in truth.queue_calls:  # the truth says what each ticket finally reads
        by_id[call.interaction].matter = call.matter
