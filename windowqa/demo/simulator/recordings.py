"""One window's half-day recording: interactions drawn, scripted and placed in time, with their truth.

Each served citizen is called by the queue system shortly before walking up; the lines of each
script follow one another with pauses (longer when the speaker changes), and the window is quiet
between citizens. The result is the recording's truth (lines, interactions, queue calls) and a
:class:`~windowqa.demo.simulator.mixing.Timeline` for the mixer; the truth never holds audio.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.domain import Role
from windowqa.demo.simulator.hall import SAMPLE_RATE_HZ, Person
from windowqa.demo.simulator.mixing import Clips, Timeline, VoiceEvent, db
from windowqa.demo.simulator.options import SimOptions, SimulationError
from windowqa.demo.simulator.scenarios import (
    INSULTS,
    PHONE_SCENARIOS,
    Library,
    Script,
    draw_scenario,
    plan_variants,
    script,
)
from windowqa.demo.simulator.situations import SituationCover
from windowqa.demo.simulator.truth import HallTruth, TruthInteraction, TruthQueueCall, TruthRecording, TruthUtterance


@dataclass(frozen=True)
class RecordingPlan:
    """What one recording covers.

    Attributes:
        rec_id: the truth's id of the recording (``<window>-<YYYYmmdd>-am|pm``).
        window: window code.
        server: who serves at the window during it.
        kinds: ``served`` (a citizen at the counter) or ``phone`` (a telephone call), in order.
        started_at: when the recorder started.
        path: the audio file, relative to the hall's folder.
    """

    rec_id: str
    window: str
    server: Person
    kinds: list[str]
    started_at: datetime
    path: str


@dataclass
class _Placed:
    """The lines of one interaction placed in time (seconds from the recording's start)."""

    utterances: list[TruthUtterance]
    first_start_s: float
    last_end_s: float


class RecordingPlacer:
    """Places the interactions of a hall's recordings in time and records their truth.

    Every draw comes from the one generator, in recording order, so the same seed gives the
    same hall; ticket numbers run on per window across recordings.
    """

    def __init__(self, lib: Library, rng: random.Random, clips: Clips, options: SimOptions, truth: HallTruth,
                 cover: SituationCover | None = None) -> None:
        self.lib = lib
        self.rng = rng
        self.clips = clips
        self.options = options
        self.truth = truth
        self.ticket_counter: dict[str, int] = {}
        # the scenarios the options name, used before any drawn one (served and phone apart)
        self.deck = {kind: [s for s in options.scenarios if s.startswith("phone_") == (kind == "phone")] for kind in ("served", "phone")}
        # every 七.1 situation and look-alike at least once in a big enough hall (none: drawn by weight alone)
        self.cover = cover or SituationCover(options.seed, 0, False)

    def place(self, plan: RecordingPlan) -> tuple[TruthRecording, Timeline]:
        """Script and place every interaction of ``plan``; the truth gains its lines, interactions and calls.

        Returns:
            The recording's truth and its timeline (for the mixer).
        """
        rng = self.rng
        timeline = Timeline()
        t = rng.uniform(4.0, 8.0)  # the recording starts before the first citizen
        citizen_no = len([u for u in self.truth.utterances if u.speaker is Role.CITIZEN])
        n_served = len([k for k in plan.kinds if k == "served"])
        variants_plan = plan_variants(rng, n_served, self.options)
        served_i = 0
        for index, kind in enumerate(plan.kinds):
            # drawn even when the deck names it, so the rest of the hall draws as without a deck
            drawn = rng.choice(PHONE_SCENARIOS) if kind == "phone" else draw_scenario(rng)
            named = self.deck[kind].pop(0).split(":") if self.deck[kind] else None
            scenario = named[0] if named else drawn
            if kind == "served":
                scenario = self.cover.choose(scenario, named=bool(named))
            if kind == "phone":
                lines = script(self.lib, rng, scenario, [])
            else:
                lines = script(self.lib, rng, scenario, variants_plan[served_i], named[1:] if named else None)
                served_i += 1
            # The telephone rings in idle time, after a longer pause.
            idle_next = index + 1 < len(plan.kinds) and plan.kinds[index + 1] == "phone"
            t = self._interaction(plan, index, lines, t, citizen_no + index, idle_next, timeline)
        timeline.duration_s = t + 2.0
        recording = TruthRecording(
            id=plan.rec_id, window=plan.window, started_at=plan.started_at,
            duration_s=round(timeline.samples / SAMPLE_RATE_HZ, 3), staff_no=plan.server.staff_no, path=plan.path,
        )
        return recording, timeline

    def _interaction(self, plan: RecordingPlan, index: int, lines: Script, t: float, visitor_no: int,
                     idle_next: bool, timeline: Timeline) -> float:
        """Place one interaction from ``t`` on; returns the time the next one may start."""
        rng = self.rng
        inter_id = f"{plan.rec_id}-{index + 1:02d}"
        citizen = Person(f"C{visitor_no:03d}", "", "", None, rng.uniform(0.94, 1.08), rng.uniform(-3.0, 3.0))
        jumper = Person(f"J{visitor_no:03d}", "", "", None, rng.uniform(0.94, 1.08), rng.uniform(-3.0, 3.0))
        ticket_no = self._queue_call(plan, inter_id, lines, t) if lines.served else None
        placed = self._lines(plan, inter_id, lines, t, citizen, jumper, timeline)
        self.truth.utterances.extend(placed.utterances)
        # Between citizens the window is quiet for a while (a compressed day: the next citizen is
        # called within half a minute).
        gap = rng.uniform(50.0, 90.0) if idle_next else rng.uniform(12.0, 25.0)
        start_s, end_s = round(placed.first_start_s, 3), round(placed.last_end_s, 3)
        self.truth.interactions.append(TruthInteraction(
            id=inter_id, recording=plan.rec_id, window=plan.window, staff_no=plan.server.staff_no,
            scenario=lines.scenario, variants=lines.variants, served=lines.served,
            start_s=start_s, end_s=end_s,
            started_at=plan.started_at + timedelta(seconds=start_s),
            ended_at=plan.started_at + timedelta(seconds=end_s),
            ticket_no=ticket_no, long_wait=lines.long_wait, gap_after_s=round(gap, 3),
            utterances=[u.id for u in placed.utterances], rating=None, conduct=list(lines.conduct),
            situations=dict(lines.situations), matter=lines.matter,
        ))
        return placed.last_end_s + gap

    def _queue_call(self, plan: RecordingPlan, inter_id: str, lines: Script, t: float) -> str:
        """The queue system calls the citizen's ticket a few seconds before the first line; returns the ticket."""
        rng = self.rng
        code = plan.window
        self.ticket_counter[code] = self.ticket_counter.get(code, 0) + 1
        call_t = t - rng.uniform(3.0, 6.0)  # the call sounds, the citizen walks up
        call_at = plan.started_at + timedelta(seconds=call_t)
        wait_min = rng.uniform(25, 50) if lines.long_wait else rng.uniform(2, 14)
        ticket = f"{code[0]}{self.ticket_counter[code]:03d}"
        self.truth.queue_calls.append(TruthQueueCall(
            called_at=call_at.replace(microsecond=0), window=code, ticket_no=ticket,
            issued_at=(call_at - timedelta(minutes=wait_min)).replace(microsecond=0), interaction=inter_id,
        ))
        return ticket

    def _lines(self, plan: RecordingPlan, inter_id: str, lines: Script, t: float, citizen: Person, jumper: Person,
               timeline: Timeline) -> _Placed:
        """Each line after its pause, in its speaker's voice, on its speaker's microphone."""
        first_start: float | None = None
        last_end = t
        utterances: list[TruthUtterance] = []
        previous: Role | None = None
        for turn in lines.turns:
            pause = turn.pause_before_s
            if previous is not None and turn.speaker is not previous:
                turn_pause = self.options.mono_turn_pause_s if self.options.mono else self.options.turn_pause_s
                pause = max(pause, self.rng.uniform(*turn_pause))
            previous = turn.speaker
            t += pause
            staff = turn.speaker is Role.STAFF
            person = plan.server if staff else (jumper if turn.note == "queue_jumper" else citizen)
            audio = self.clips.voiced(turn.line, person)
            # the mixer's side (0 staff, 1 citizen); a mono recording has channel 0 only
            side = 0 if staff else 1
            channel = 0 if self.options.mono else side
            timeline.events.append(VoiceEvent(int(round(t * SAMPLE_RATE_HZ)), side, audio, db(person.gain_db)))
            dur = len(audio) / SAMPLE_RATE_HZ
            first_start = t if first_start is None else first_start
            utterances.append(TruthUtterance(
                id=f"{inter_id}-{len(utterances) + 1:02d}", recording=plan.rec_id, interaction=inter_id,
                speaker=turn.speaker, person=person.staff_no, channel=channel, line_id=turn.line.id,
                text=turn.line.text, start_s=round(t, 3), end_s=round(t + dur, 3),
                rule_ids=list(turn.line.expected) if staff else [],
                optional_rule_ids=list(turn.line.optional) if staff else [],
                citizen_abuse=turn.speaker is Role.CITIZEN and turn.line.id in INSULTS,
                note=turn.note,
            ))
            t += dur
            last_end = t
        if first_start is None:
            raise SimulationError(f"{inter_id}: a {lines.scenario} script without lines")
        return _Placed(utterances, first_start, last_end)
