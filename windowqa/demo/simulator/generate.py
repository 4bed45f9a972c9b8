"""The generator of whole hall days: the cast, every window's recordings, ratings, attendance, files.

:func:`generate_hall` draws everything from one ``random.Random(seed)`` (and the hall noise from
one ``numpy`` generator seeded alike), in a fixed order, so the same options give byte-identical
files. The parts live next door: scripts in :mod:`.scenarios`, placing them in time in
:mod:`.recordings`, audio in :mod:`.mixing`, check-ins in :mod:`.attendance`, the site's files in
:mod:`.site_files` and the typed ground truth in :mod:`.truth`.
"""

from __future__ import annotations

import logging
import random
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from models.rulebook import Rulebook, load_rulebook
from windowqa.demo import load_bank
from windowqa.demo.simulator.attendance import simulate_attendance
from windowqa.demo.simulator.conduct import assign_citizens
from windowqa.demo.simulator.hall import (
    ENROLLED_PHOTOS,
    GOOD_COMMENTS,
    POOR_COMMENTS,
    SAMPLE_RATE_HZ,
    STAFF_NAMES,
    SUBSTITUTE,
    WINDOWS,
    Person,
)
from windowqa.demo.simulator.mixing import Clips, hall_noise, mix, mix_mono, write_flac
from windowqa.demo.simulator.options import SimOptions
from windowqa.demo.simulator.recordings import RecordingPlacer, RecordingPlan
from windowqa.demo.simulator.scenarios import Library
from windowqa.demo.simulator.situations import SituationCover
from windowqa.demo.simulator.site_files import write_site_files
from windowqa.demo.simulator.truth import (
    TRUTH_VERSION,
    HallTruth,
    TruthInteraction,
    TruthLeave,
    TruthLevels,
    TruthRating,
    TruthRecording,
    TruthStaff,
    TruthSubstitute,
    TruthWindow,
    write_truth,
)

log = logging.getLogger("windowqa.demo")

_SNR_DEFINITION = (
    "RMS of each channel's own speaker (bank clips at -20 dBFS, per-person gain) over the RMS of the hall noise on that channel"
)


@dataclass
class GeneratedHall:
    """What :func:`generate_hall` wrote: the folder and its ground truth."""

    folder: Path
    truth: HallTruth

    @property
    def recordings(self) -> list[TruthRecording]:
        return self.truth.recordings


def working_days(first: date, count: int) -> list[date]:
    """``count`` Monday–Friday dates from ``first`` on (the demo avoids holiday periods)."""
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@dataclass
class _Cast:
    """The hall's staff: one rostered member per window, the substitute, and who is on leave."""

    staff: list[Person]
    substitute: Person
    on_leave: Person
    leave_day: date

    @property
    def everyone(self) -> list[Person]:
        return [*self.staff, self.substitute]


def generate_hall(folder: str | Path, options: SimOptions | None = None, *, rulebook: Rulebook | None = None,
                  progress: bool = False) -> GeneratedHall:
    """Generate a simulated hall into ``folder`` (created; files of an earlier run are replaced).

    Args:
        folder: output folder.
        options: size, seed, levels and shares.
        rulebook: the shift times for check-ins and the rating levels; the shipped one when None.
        progress: show a progress bar over the recordings.

    Returns:
        The folder and the ground truth (also written to ``truth.json``).

    Raises:
        SimulationError: bad options or a bank without the lines a scenario needs.
        windowqa.demo.BankError: the bank cannot be read.
    """
    options = options or SimOptions()
    options.size.check()
    options.check_scenarios()
    rulebook = rulebook or load_rulebook()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("audio", "checkins"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir()
    rng = random.Random(options.seed)
    nprng = np.random.default_rng(options.seed)
    lib = Library(load_bank())
    clips = Clips()
    days = working_days(options.first_day, options.size.days)
    windows = WINDOWS[: options.size.windows]
    cast = _cast(rng, windows, days, options)
    truth = _new_truth(options, days, windows, cast)
    _file_substitution(truth, cast, rulebook)
    babble_pool = [clips(line) for line in lib.lines[:: max(1, len(lib.lines) // 40)]]
    jobs = [(day, w, half) for day in days for w in range(len(windows)) for half in ("morning", "afternoon")]
    size = options.size
    served = sum(n - n_phone for n, n_phone in (_half_day_counts(options, half) for _d, _w, half in jobs))
    cover = SituationCover(options.seed, served, size.windows * size.interactions * size.days >= options.situation_cover > 0)
    placer = RecordingPlacer(lib, rng, clips, options, truth, cover)
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="simulating recordings", unit="rec")
    for day, w, half in jobs:
        plan = _recording_plan(rng, options, rulebook, cast, truth, day, w, half)
        if plan is None:
            continue
        recording, timeline = placer.place(plan)
        mixer = mix_mono if options.mono else mix
        write_flac(folder / plan.path, mixer(timeline, options, babble_pool, nprng))
        truth.recordings.append(recording)
    if options.mono:
        truth.files.enrolment = ENROLMENT_DIR
        _write_enrolment(folder, cast, lib, clips, options, babble_pool)
    _simulate_ratings(truth, rng, options, rulebook)
    assign_citizens(truth, options.seed)
    simulate_attendance(truth, rng, cast.everyone, cast.on_leave, cast.leave_day, rulebook, folder)
    write_site_files(folder, truth, rulebook)
    write_truth(folder, truth)
    log.info("simulated hall in %s: %d recordings, %d interactions, %d utterances, %d ratings",
             folder, len(truth.recordings), len(truth.interactions), len(truth.utterances), len(truth.ratings))
    return GeneratedHall(folder, truth)


def _cast(rng: random.Random, windows: list[tuple[str, str, str, str]], days: list[date], options: SimOptions) -> _Cast:
    """Voices for the staff and the substitute; who checks in by face and who by card."""
    staff = [
        Person(f"{1001 + i}", STAFF_NAMES[i], dept, code, rng.uniform(0.95, 1.06), rng.uniform(-2.0, 2.0))
        for i, (code, _name, dept, _dn) in enumerate(windows)
    ]
    substitute = Person(SUBSTITUTE[0], SUBSTITUTE[1], SUBSTITUTE[2], None, rng.uniform(0.95, 1.06), 0.0)
    substitute.pitch_st = options.substitute_pitch_st
    substitute.formant_ratio = options.substitute_formant_ratio
    everyone = [*staff, substitute]
    for person, photo in zip(everyone, ENROLLED_PHOTOS):
        person.photo = photo
    for person in everyone:
        if person.photo is None:
            person.card_no = f"C{person.staff_no}"
    # The substitute covers the last window in the afternoon of the first day; its staff member
    # is on approved 事假 for that afternoon (one filed substitute, one leave record).
    on_leave = staff[-1] if len(staff) > 1 else staff[0]
    return _Cast(staff, substitute, on_leave, days[0])


ENROLMENT_DIR = "enrol"
ENROLMENT_LINES = 8


def _write_enrolment(folder: Path, cast: _Cast, lib: Library, clips: Clips, options: SimOptions,
                     babble_pool: list) -> None:
    """``enrol/<工号>.flac``: each staff member (and the substitute) reading a few staff lines
    alone at the window microphone, in the hall (what ``windowqa voice enroll`` takes).

    Drawn from generators of their own, so the hall's recordings are the same with or without.
    """
    from models.domain import Role

    rng = random.Random(f"enrol-{options.seed}")
    nprng = np.random.default_rng([options.seed, 1])
    staff_lines = [line for line in lib.lines if line.speaker is Role.STAFF]
    (folder / ENROLMENT_DIR).mkdir(exist_ok=True)
    for person in cast.everyone:
        parts = []
        for line in rng.sample(staff_lines, ENROLMENT_LINES):
            parts += [np.zeros(int(rng.uniform(0.4, 0.9) * SAMPLE_RATE_HZ), np.float32),
                      clips.voiced(line, person)]
        audio = np.concatenate([*parts, np.zeros(SAMPLE_RATE_HZ // 2, np.float32)])
        noise = hall_noise(audio.size, babble_pool, nprng, options.babble_share) * (10 ** (-20.0 / 20) / 10 ** (options.snr_db / 20))
        write_flac(folder / ENROLMENT_DIR / f"{person.staff_no}.flac", (audio * 10 ** (person.gain_db / 20) + noise)[None, :])


def _new_truth(options: SimOptions, days: list[date], windows: list[tuple[str, str, str, str]], cast: _Cast) -> HallTruth:
    """The truth before anything happened: options, levels, days, windows and staff."""
    return HallTruth(
        version=TRUTH_VERSION,
        options=options,
        sample_rate_hz=SAMPLE_RATE_HZ,
        channels={"0": "unknown"} if options.mono else {"0": "staff", "1": "citizen"},
        levels=TruthLevels(options.snr_db, _SNR_DEFINITION, options.crosstalk_db, options.babble_share),
        days=list(days),
        windows=[TruthWindow(c, n, d, dn) for c, n, d, dn in windows],
        staff=[
            TruthStaff(p.staff_no, p.name, p.department, p.window, "face" if p.photo else "card", p.photo, p.card_no)
            for p in cast.everyone
        ],
    )


def _file_substitution(truth: HallTruth, cast: _Cast, rulebook: Rulebook) -> None:
    """The substitute filed the day before, and the leave record of the member it replaces."""
    leave_day, on_leave = cast.leave_day, cast.on_leave
    shift = rulebook.attendance.shift_for(leave_day)
    sub_start = datetime.combine(leave_day, shift.afternoon_arrive_by)
    sub_end = datetime.combine(leave_day, shift.afternoon_leave_from)
    truth.substitutes.append(TruthSubstitute(
        window=on_leave.window or "", substitute=cast.substitute.staff_no, replaces=on_leave.staff_no,
        starts_at=sub_start, ends_at=sub_end, reason="事假替岗", filed_at=sub_start - timedelta(days=1),
    ))
    truth.leave.append(TruthLeave(
        record_id=f"QJ-{leave_day:%Y%m%d}-{on_leave.staff_no}", staff=on_leave.staff_no, leave_type="事假",
        start=leave_day, end=leave_day, status="approved", start_half="afternoon", end_half="afternoon",
    ))


def _recording_plan(rng: random.Random, options: SimOptions, rulebook: Rulebook, cast: _Cast, truth: HallTruth,
                    day: date, w: int, half: str) -> RecordingPlan | None:
    """One window's half-day: who serves, when the recorder starts, which interactions (None: none)."""
    code = truth.windows[w].code
    shift = rulebook.attendance.shift_for(day)
    n_total, n_phone = _half_day_counts(options, half)
    if n_total == 0:
        return None
    server = cast.staff[w]
    if half == "afternoon" and day == cast.leave_day and server is cast.on_leave:
        server = cast.substitute
    start_clock = (shift.morning_arrive_by if half == "morning" else shift.afternoon_arrive_by)
    started_at = datetime.combine(day, start_clock) + timedelta(minutes=15 + 3 * w)
    rec_id = f"{code}-{day:%Y%m%d}-{'am' if half == 'morning' else 'pm'}"
    kinds = ["served"] * (n_total - n_phone) + ["phone"] * n_phone
    rng.shuffle(kinds)
    if kinds and kinds[0] == "phone" and len(kinds) > 1:
        kinds[0], kinds[1] = kinds[1], kinds[0]
    path = str(Path(truth.files.audio) / f"{code}_{started_at:%Y%m%dT%H%M%S}.flac")
    return RecordingPlan(rec_id, code, server, kinds, started_at, path)


def _half_day_counts(options: SimOptions, half: str) -> tuple[int, int]:
    """A window's interactions in one half-day, and how many of them are telephone calls."""
    size = options.size
    n_total = size.interactions // 2 + (size.interactions % 2 if half == "morning" else 0)
    # Telephone calls come in the afternoon (a one-interaction day has only its morning).
    n_phone = min(options.phone_calls if half == "afternoon" or size.interactions < 2 else 0, n_total)
    if size.interactions >= 2 and half == "morning":
        n_phone = 0
    return n_total, n_phone


def _simulate_ratings(truth: HallTruth, rng: random.Random, options: SimOptions, rulebook: Rulebook) -> None:
    """Ratings: a rating belongs to the interaction that just ended; behaviour drives the level."""
    rating_no = 0
    window_names = {w.code: w.name for w in truth.windows}
    for inter in truth.interactions:
        if not inter.served or rng.random() > options.rating_share:
            continue
        rating_no += 1
        level = _rating_level(rng, inter, rulebook)
        rated_at = inter.ended_at + timedelta(seconds=rng.uniform(2.0, min(6.0, inter.gap_after_s * 0.5)))
        # The terminal shows whoever logged in at the window in the morning: during the
        # substitution it still shows the replaced member (the seed's 工号 check flags it).
        terminal = next(p for p in truth.staff if p.window == inter.window)
        poor = level in rulebook.ratings.poor
        rating = TruthRating(
            serial_no=f"PJ{rated_at:%Y%m%d}{rating_no:04d}",
            rated_at=rated_at.replace(microsecond=0),
            window=inter.window,
            terminal_staff_no=terminal.staff_no,
            terminal_staff_name=terminal.name,
            level=level,
            poor=poor,
            comment=rng.choice(POOR_COMMENTS if poor else GOOD_COMMENTS),
            matter=window_names[inter.window],
            interaction=inter.id,
            staff_mismatch_expected=terminal.staff_no != inter.staff_no,
        )
        truth.ratings.append(rating)
        inter.rating = rating.serial_no


def _rating_level(rng: random.Random, inter: TruthInteraction, rulebook: Rulebook) -> str:
    """Draw a level; forbidden phrases, missing courtesy and abuse make a 差评 likelier."""
    levels = rulebook.ratings.levels  # best first
    p_poor = 0.04
    if "forbidden" in inter.variants:
        p_poor += 0.6
    if "no_greeting" in inter.variants or "no_farewell" in inter.variants:
        p_poor += 0.2
    if inter.scenario == "citizen_abuse":
        p_poor += 0.4
    if inter.scenario in ("long_wait", "cannot_satisfy"):
        p_poor += 0.08
    roll = rng.random()
    if roll < p_poor:
        return levels[-1] if rng.random() < 0.5 else levels[-2]
    if roll < p_poor + 0.12:
        return levels[2]
    return levels[0] if rng.random() < 0.65 else levels[1]
