"""Simulated attendance: check-ins at the hall's terminal and the expected class of every staff half-day.

One staff member arrives late, one leaves early, one forgets a check, one is on leave for an
afternoon (covered by the substitute); everyone else is on time. Staff with an enrolled photo
check in by face (a terminal frame made from the photo), the others by card. A visitor's face at
the terminal is recorded as unknown.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from models.rulebook import Rulebook
from windowqa.demo.simulator.hall import PHOTOS_DIR, UNKNOWN_PHOTO, Person
from windowqa.demo.simulator.options import SimulationError
from windowqa.demo.simulator.truth import HallTruth, TruthCheckin, TruthHalfDay


@dataclass(frozen=True)
class _FirstDay:
    """Who breaks the routine on the first simulated day (None: the hall is too small for it)."""

    on_leave: Person
    late: Person | None
    early: Person | None
    missing: Person | None

    @classmethod
    def cast(cls, everyone: list[Person], on_leave: Person) -> "_FirstDay":
        others = [p for p in everyone if p is not on_leave and p.window is not None]
        return cls(
            on_leave=on_leave,
            late=others[1 % len(others)] if others else None,
            early=others[2 % len(others)] if len(others) > 2 else None,
            missing=others[0] if len(others) >= 3 else None,
        )


class _Terminal:
    """The hall's attendance terminal: every check goes into the truth, face checks with a frame."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder = folder
        self.rng = rng
        self.checks: list[TruthCheckin] = []

    def check(self, person: Person, at: datetime) -> None:
        if person.photo:
            name = f"checkins/{at:%Y%m%dT%H%M%S}_{person.staff_no}.jpg"
            terminal_photo(PHOTOS_DIR / person.photo, self.folder / name, self.rng)
            self.checks.append(TruthCheckin(person.staff_no, at, "face", image=name))
        else:
            self.checks.append(TruthCheckin(person.staff_no, at, "card", card_no=person.card_no))

    def visitor(self, at: datetime) -> None:
        name = f"checkins/{at:%Y%m%dT%H%M%S}_unknown.jpg"
        # copied as it is: a face in half profile is found only in some crops and scales
        shutil.copyfile(PHOTOS_DIR / UNKNOWN_PHOTO, self.folder / name)
        self.checks.append(TruthCheckin(None, at, "face", image=name))


def simulate_attendance(truth: HallTruth, rng: random.Random, everyone: list[Person], on_leave: Person,
                        leave_day: date, rulebook: Rulebook, folder: Path) -> None:
    """Check-ins (face frames written under ``folder/checkins``) and expected classes, into ``truth.attendance``."""
    days = truth.days
    first = _FirstDay.cast(everyone, on_leave)
    terminal = _Terminal(folder, rng)
    expected = truth.attendance.expected
    for day in days:
        shift = rulebook.attendance.shift_for(day)
        slots = {
            "morning": (shift.morning_arrive_by, shift.morning_leave_from),
            "afternoon": (shift.afternoon_arrive_by, shift.afternoon_leave_from),
        }
        first_day = first if day == days[0] else None
        for person in everyone:
            for half, (arrive, leave) in slots.items():
                if first_day and person is on_leave and day == leave_day and half == "afternoon":
                    expected.append(TruthHalfDay(person.staff_no, day, half, "leave"))
                    continue
                expected.append(_half_day(terminal, rng, person, day, half, arrive, leave, first_day))
        # A visitor tries the terminal: recorded as an unknown face, never as staff.
        terminal.visitor(datetime.combine(day, slots["morning"][0]) - timedelta(minutes=25))
    truth.attendance.checkins.extend(sorted(terminal.checks, key=lambda c: c.at))


def _half_day(terminal: _Terminal, rng: random.Random, person: Person, day: date, half: str, arrive: time,
              leave: time, first_day: _FirstDay | None) -> TruthHalfDay:
    """The checks of one staff half-day at the terminal and its expected class."""
    status, late_min, early_min = "on_time", 0, 0
    arrive_at = datetime.combine(day, arrive) - timedelta(minutes=rng.randint(3, 20), seconds=rng.randint(0, 59))
    leave_at = datetime.combine(day, leave) + timedelta(minutes=rng.randint(1, 12), seconds=rng.randint(0, 59))
    skip_arrive = False
    if first_day and person is first_day.late and half == "morning":
        late_min = rng.randint(7, 25)
        arrive_at = datetime.combine(day, arrive) + timedelta(minutes=late_min, seconds=rng.randint(1, 40))
        status = "late"
    if first_day and person is first_day.early and half == "afternoon":
        early_min = rng.randint(10, 40)
        leave_at = datetime.combine(day, leave) - timedelta(minutes=early_min, seconds=rng.randint(1, 40))
        status = "early_leave"
    if first_day and person is first_day.missing and half == "afternoon":
        skip_arrive = True
        status = "missing_check"
    if not skip_arrive:
        terminal.check(person, arrive_at)
    terminal.check(person, leave_at)
    return TruthHalfDay(person.staff_no, day, half, status, late_minutes=late_min, early_minutes=early_min)


def terminal_photo(source: Path, target: Path, rng: random.Random) -> None:
    """A check-in terminal frame made from a shipped photo: another crop, scale and exposure."""
    import cv2  # imported here: only the generator writes photos

    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise SimulationError(f"{source}: cannot read the demo photo")
    h, w = image.shape[:2]
    dx, dy = int(w * rng.uniform(0.0, 0.06)), int(h * rng.uniform(0.0, 0.06))
    image = image[dy : h - int(h * rng.uniform(0.0, 0.06)), dx : w - int(w * rng.uniform(0.0, 0.06))]
    scale = rng.uniform(0.9, 1.15)
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    image = np.clip(image.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(80, 92))])
