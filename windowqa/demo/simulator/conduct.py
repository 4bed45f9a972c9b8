"""Scenarios of issue 15's conduct checks, and the repeat visits of the queue data.

Served scenarios (a citizen at the counter) with a telephone call or a retort in them, each
with the conduct flags it must raise (``TruthInteraction.conduct``) or, for the look-alikes,
must not:

* ``personal_call``: staff answer or place a call while serving, about nothing the citizen came
  for (二.4) -> ``personal_call``;
* ``work_call``: a call about the citizen's 营业执照, announced to the citizen (must not count as
  personal); answered with 喂 and no greeting -> ``telephone:phone.greet`` (七.2.1);
* ``excused_call``: an urgent call that staff excuse first (二.4 allows it) -> nothing;
* ``retort``: staff answer a citizen's insult with abuse (二.7) -> ``retort`` linked to the insult;
  unprovoked (variant ``unprovoked``) -> ``retort`` with no link.

A telephone interaction ``phone_no_greeting`` (answered with 喂) -> ``telephone:phone.greet``; the
other telephone scenarios (greeting, redirect, message, wrong number, outgoing) are its look-alikes.

Every line is a committed bank line; the retort and the private call's reply are citizen lines
of the bank said by staff here (the bank has no such staff line; ``make bank`` can add them).
"""

from __future__ import annotations

import random
from dataclasses import replace

from models.domain import Role
from windowqa.demo import BankLine
from windowqa.demo.simulator.truth import HallTruth, TruthRepeatVisit

S, C = Role.STAFF, Role.CITIZEN

# Served scenarios of this module and how often they are drawn (next to scenarios.SCENARIO_WEIGHTS).
CONDUCT_WEIGHTS = {"personal_call": 4, "work_call": 4, "excused_call": 2, "retort": 4}
PHONE_CONDUCT_SCENARIOS = ("phone_no_greeting",)

RETORT_LINE = "c_citizen_abuse_06"  # 你算老几啊, said by staff
PRIVATE_REPLY = "c_phone_outgoing_01"  # 好的，你等一下，我去叫他: nothing of the citizen's matter
ANSWER_WITHOUT_GREETING = "s_phone_incoming_04"  # 喂，您说的是营业执照年报的事吧
ASKS_FOR_LICENCE = "c_ordinary_01"  # 你好，我想办一下营业执照
WORK_CALL_ANNOUNCED = "s_wrong_window_02"  # 我也不确定，我打个电话问一下业务科
EXCUSE = ("s_staff_called_away_01", "s_staff_called_away_02")
BACK_FROM_CALL = "s_staff_called_away_04"  # 对不起，让您久等了，我们接着办
CALL_PAUSE_S = (1.8, 3.2)  # the caller speaks in between (not on the window microphones)


def as_staff(line: BankLine, *rule_ids: str) -> BankLine:
    """A bank line said by staff, with the rules it must produce when staff say it."""
    return replace(line, speaker=S, expected=tuple(rule_ids), optional=())


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
        w.say(S, as_staff(by_id[PRIVATE_REPLY]), CALL_PAUSE_S, "phone")
        w.say(C, w.pick(C, "staff_called_away", ids=("c_staff_called_away_01", "c_staff_called_away_02")), (2.0, 3.5))
        w.say(S, w.neutral_staff())
        return ["personal_call"]
    if scenario == "work_call":
        greeted = "no_call_greeting" not in variants
        w.say(S, w.neutral_staff())
        if "no_call_greeting" not in variants and rng.random() < 0.5:  # staff call the back office about the citizen's case
            w.say(S, by_id[WORK_CALL_ANNOUNCED])
            w.say(S, w.pick(S, "phone_outgoing", rule="phone.outgoing"), (2.0, 3.5), "phone")
            w.say(S, by_id[ANSWER_WITHOUT_GREETING], CALL_PAUSE_S, "phone")
            expected: list[str] = []
            variants.append("outgoing")
        else:  # the back office calls about it
            if greeted:
                w.say(S, w.pick(S, "phone_incoming", rule="phone.greet"), (2.0, 4.0), "phone")
            w.say(S, by_id[ANSWER_WITHOUT_GREETING], CALL_PAUSE_S if greeted else (2.0, 4.0), "phone")
            expected = [] if greeted else ["telephone:phone.greet"]
        w.say(C, w.pick(C, "ordinary", neutral=True, ids=("c_ordinary_05", "c_ordinary_06", "c_ordinary_07")), (2.0, 3.5))
        w.say(S, w.neutral_staff())
        return expected
    if scenario == "excused_call":
        w.say(S, w.neutral_staff())
        w.say(S, w.pick(S, "staff_called_away", ids=EXCUSE))
        w.say(S, w.pick(S, "phone_incoming", rule="phone.greet"), (2.0, 4.0), "phone")
        w.say(S, as_staff(by_id[PRIVATE_REPLY]), CALL_PAUSE_S, "phone")
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
        w.say(S, as_staff(by_id[RETORT_LINE], "forbidden.retort"))
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
    w.say(S, w.lib.by_id[ANSWER_WITHOUT_GREETING], (0.5, 1.0), "phone")
    w.say(S, w.pick(S, "phone_incoming", rule="phone.redirect", ids=("s_phone_incoming_06", "s_phone_incoming_07")), (1.5, 3.0), "phone")
    return ["telephone:phone.greet"]


# ---------------------------------------------------------------------------- repeat visits

def assign_citizens(truth: HallTruth, seed: int) -> None:
    """Give every queue call a matter (the window's) and a made-up citizen ID; make some citizens come back.

    Per window and day: one citizen of the morning returns in the afternoon for the same matter
    (八.3/八.4: must be flagged against the morning's staff member), and one comes back in the
    afternoon for another matter (at another window, or at the same window with another 事项):
    must not be flagged.
    """
    rng = random.Random(seed * 7919 + 15)  # its own generator: the rest of the hall stays as it was
    names = {w.code: w.name for w in truth.windows}
    by_id = {i.id: i for i in truth.interactions}
    for call in truth.queue_calls:
        call.matter = names[call.window]
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
