"""The simulated service hall: a scenario library and a generator of whole hall days.

:func:`generate_hall` writes, into one folder, everything a real site would hand windowqa:

* ``site.toml``: departments, windows, staff with 工号, the duty roster and one filed substitute;
* ``audio/<window>_<YYYYmmddTHHMMSS>.flac``: STEREO window recordings (channel 0 the staff lapel
  microphone, channel 1 the citizen side), assembled from the committed utterance bank with a
  voice per person, crosstalk of the other side at a reduced level, hall noise (babble of distant
  voices plus broadband hiss) at a stated SNR, and pauses;
* ``queue.csv`` (叫号 call events), ``ratings.csv`` (the evaluation terminal's export),
  ``leave.csv`` (one leave record), ``checkins.csv`` plus ``checkins/*.jpg`` (terminal photos for
  face check-ins, card numbers for staff who chose the non-biometric check-in);
* ``truth.json``: the ground truth: who said what when, which rules each staff line must (or
  may) produce, which interaction every line, call and rating belongs to, who served, and the
  expected attendance class of every staff half-day.

Everything is drawn from one ``random.Random(seed)`` and one ``numpy`` generator seeded from it,
so the same options give byte-identical files. Nothing here loads a model.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from models.domain import Role
from models.rulebook import Rulebook, load_rulebook
from windowqa.demo import BANK_SAMPLE_RATE_HZ, BankLine, load_bank, read_clip

log = logging.getLogger("windowqa.demo")

SAMPLE_RATE_HZ = BANK_SAMPLE_RATE_HZ
TRUTH_FILE = "truth.json"
TRUTH_VERSION = 1
PHOTOS_DIR = Path(__file__).parent / "photos"


class SimulationError(ValueError):
    """Options or bank contents that cannot make a hall day; the message says which and why."""


# ----------------------------------------------------------------------------- options and sizes


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
        if not 1 <= self.windows <= len(_WINDOWS):
            raise SimulationError(f"windows must be 1..{len(_WINDOWS)}, got {self.windows}")
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

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["size"] = str(self.size)
        data["first_day"] = self.first_day.isoformat()
        data["turn_pause_s"] = list(self.turn_pause_s)
        return data


# ----------------------------------------------------------------------------- the hall

# (code, name, department code, department name, how the staff member answers the phone)
_WINDOWS = [
    ("A01", "企业开办", "SCJG", "市场监管局"),
    ("A02", "不动产登记", "ZRZY", "自然资源局"),
    ("B01", "社保", "RSJ", "人社局"),
    ("B02", "医保", "YBJ", "医保局"),
    ("C01", "公积金", "GJJ", "住房公积金中心"),
    ("C02", "户籍", "GAJ", "公安局"),
    ("D01", "税务", "SWJ", "税务局"),
    ("D02", "综合受理", "ZWFW", "政务服务中心"),
]
_STAFF_NAMES = ["张敏", "李强", "王芳", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周涛"]
_SUBSTITUTE = ("9001", "孙悦", "ZWFW")  # the hall's floater who covers windows (替岗)

# Public-domain / CC0 photos shipped in windowqa/demo/photos (see SOURCES.md there).
_ENROLLED_PHOTOS = ["staff_a.jpg", "staff_b.jpg"]
_UNKNOWN_PHOTO = "visitor.jpg"

_POOR_COMMENTS = ["态度不好", "说话太冲", "等了太久也没人解释", "让我自己去查", "推来推去"]
_GOOD_COMMENTS = ["", "", "服务很好", "办得很快", "很耐心", ""]


@dataclass
class _Person:
    staff_no: str
    name: str
    department: str
    window: str | None
    voice_rate: float
    gain_db: float
    photo: str | None = None  # enrolled face photo (None: checks in by card)
    card_no: str | None = None


# ----------------------------------------------------------------------------- the scenario library

# Which forbidden rules a scenario's "bad" variant draws its staff line from (seed wording and
# paraphrases are both in the bank under that scenario).
_FORBIDDEN_BY_SCENARIO = {
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
_COURTESY_BY_SCENARIO = {
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
_INSULTS = ("c_citizen_abuse_04", "c_citizen_abuse_05", "c_citizen_abuse_06")
# How often each served scenario occurs (weights).
SCENARIO_WEIGHTS = {
    "ordinary": 6,
    "long_wait": 2,
    "wrong_window": 2,
    "form_error": 2,
    "materials_returned": 2,
    "queue_jumper": 1,
    "staff_called_away": 1,
    "materials_invalid": 2,
    "cannot_satisfy": 2,
    "citizen_abuse": 1,
}
PHONE_SCENARIOS = ("phone_incoming", "phone_transfer", "phone_wrong_number", "phone_outgoing")


@dataclass
class _Turn:
    """One line in a scripted interaction, before it is placed in time."""

    line: BankLine
    speaker: Role
    pause_before_s: float
    note: str = ""  # e.g. "queue_jumper" for a second citizen


@dataclass
class _Script:
    scenario: str
    variants: list[str]
    turns: list[_Turn]
    served: bool
    long_wait: bool = False


class _Library:
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


def _script(lib: _Library, rng: random.Random, scenario: str, variants: list[str]) -> _Script:
    """The lines of one interaction of ``scenario`` with ``variants`` (forbidden, no_greeting, no_farewell)."""
    S, C = Role.STAFF, Role.CITIZEN
    turns: list[_Turn] = []

    def say(speaker: Role, line: BankLine, pause: tuple[float, float] = (0.6, 1.4), note: str = "") -> None:
        turns.append(_Turn(line, speaker, rng.uniform(*pause), note))

    def neutral_staff() -> BankLine:
        return lib.pick(rng, S, "any", neutral=True)

    if scenario.startswith("phone_"):
        return _phone_script(lib, rng, scenario)

    long_wait = scenario == "long_wait"
    bad = "forbidden" in variants
    # Opening: the greeting (or, after a long wait, the apology that may carry the greeting).
    if long_wait and not bad:
        say(S, lib.pick(rng, S, "long_wait", rule="courtesy.sorry_for_wait", ids=("s_long_wait_04", "s_long_wait_05")), (0.5, 1.0))
        if "no_greeting" not in variants:
            say(S, lib.pick(rng, S, "any", rule="courtesy.greet"), (0.3, 0.6))
    elif "no_greeting" not in variants:
        say(S, lib.pick(rng, S, "any", rule="courtesy.greet"), (0.5, 1.0))
    citizen_scenario = scenario if scenario != "materials_returned" else "ordinary"
    say(C, lib.pick(rng, C, citizen_scenario, neutral=True) if scenario != "citizen_abuse"
        else lib.pick(rng, C, "ordinary", neutral=True))

    if scenario == "ordinary":
        say(S, neutral_staff())
        say(C, lib.pick(rng, C, "ordinary", neutral=True))
        if bad:
            say(S, lib.pick(rng, S, "ordinary", rule=rng.choice(_FORBIDDEN_BY_SCENARIO["ordinary"])))
            say(C, lib.pick(rng, C, "ordinary", neutral=True))
        say(S, lib.pick(rng, S, "any", rule="courtesy.please_wait"))
        turns[-1].pause_before_s = rng.uniform(0.6, 1.2)
        say(S, neutral_staff(), (6.0, 12.0))  # staff working in silence after 请稍等
    elif scenario == "long_wait":
        if bad:
            say(S, lib.pick(rng, S, "long_wait", rule=rng.choice(_FORBIDDEN_BY_SCENARIO["long_wait"])))
            say(C, lib.pick(rng, C, "long_wait", neutral=True))
        say(S, neutral_staff())
        say(C, lib.pick(rng, C, "ordinary", neutral=True))
        say(S, neutral_staff())
    elif scenario in ("wrong_window", "form_error", "materials_invalid", "cannot_satisfy"):
        say(S, neutral_staff())
        say(C, lib.pick(rng, C, scenario, neutral=True))
        if bad:
            say(S, lib.pick(rng, S, scenario, rule=rng.choice(_FORBIDDEN_BY_SCENARIO[scenario])))
        else:
            say(S, lib.pick(rng, S, scenario, rule=_COURTESY_BY_SCENARIO[scenario][0]))
        say(C, lib.pick(rng, C, scenario, neutral=True))
        if scenario == "cannot_satisfy" and not bad:
            say(S, lib.pick(rng, S, "cannot_satisfy", neutral=True))
    elif scenario == "materials_returned":
        say(S, lib.pick(rng, S, "any", neutral=True))
        say(C, lib.pick(rng, C, "materials_returned", neutral=True))
        say(S, lib.pick(rng, S, "any", rule="courtesy.please_wait"))
        say(S, neutral_staff(), (5.0, 10.0))
        say(S, lib.pick(rng, S, "materials_returned", rule="courtesy.return_materials"))
        say(C, lib.pick(rng, C, "materials_returned", neutral=True))
    elif scenario == "queue_jumper":
        say(S, neutral_staff())
        # A second citizen pushes in at the counter (heard on the citizen microphone).
        say(C, lib.pick(rng, C, "queue_jumper", ids=("c_queue_jumper_01", "c_queue_jumper_02", "c_queue_jumper_03")), note="queue_jumper")
        if bad:
            say(S, lib.pick(rng, S, "queue_jumper", rule="forbidden.impatient"))
        else:
            say(S, lib.pick(rng, S, "queue_jumper", rule="courtesy.queue"))
        say(C, lib.pick(rng, C, "queue_jumper", ids=("c_queue_jumper_04", "c_queue_jumper_05")))
        say(S, neutral_staff())
    elif scenario == "staff_called_away":
        say(S, neutral_staff())
        say(S, lib.pick(rng, S, "staff_called_away", rule="courtesy.urgent_leave"))
        say(C, lib.pick(rng, C, "staff_called_away", neutral=True), (8.0, 14.0))  # left alone at the window
        say(S, lib.pick(rng, S, "staff_called_away", rule="courtesy.sorry_for_wait", ids=("s_staff_called_away_04",)), (8.0, 14.0))
        say(S, neutral_staff())
    elif scenario == "citizen_abuse":
        say(S, neutral_staff())
        say(C, lib.pick(rng, C, "citizen_abuse", ids=_INSULTS))  # an insult (二.7), then a complaint or more
        if bad:
            say(S, lib.pick(rng, S, "citizen_abuse", rule="forbidden.go_to_leader"))
        else:
            say(S, lib.pick(rng, S, "citizen_abuse", neutral=True))
        say(C, lib.pick(rng, C, "citizen_abuse", neutral=True))
        say(S, lib.pick(rng, S, "citizen_abuse", neutral=True))
    else:  # pragma: no cover - guarded by SCENARIO_WEIGHTS
        raise SimulationError(f"unknown scenario {scenario!r}")

    if "no_farewell" not in variants:
        say(S, lib.pick(rng, S, "any", rule="courtesy.farewell"))
        if rng.random() < 0.5:
            say(C, lib.pick(rng, C, "ordinary", ids=("c_ordinary_06", "c_ordinary_09")), (0.4, 0.9))
    return _Script(scenario, variants, turns, served=True, long_wait=long_wait)


def _phone_script(lib: _Library, rng: random.Random, scenario: str) -> _Script:
    """A telephone call at the window: only the staff side is on the window microphones."""
    S = Role.STAFF
    turns: list[_Turn] = []

    def say(line: BankLine, pause: tuple[float, float] = (1.5, 3.0)) -> None:
        turns.append(_Turn(line, S, rng.uniform(*pause), "phone"))

    if scenario == "phone_outgoing":
        say(lib.pick(rng, S, "phone_outgoing", rule="phone.outgoing"), (0.5, 1.0))
    else:
        say(lib.pick(rng, S, "phone_incoming", rule="phone.greet"), (0.5, 1.0))
        if scenario == "phone_incoming":
            say(lib.pick(rng, S, "phone_incoming", rule="phone.redirect", ids=("s_phone_incoming_06", "s_phone_incoming_07")))
        elif scenario == "phone_transfer":
            say(lib.pick(rng, S, "phone_transfer", rule="phone.absent"))
            say(lib.pick(rng, S, "phone_transfer", rule="phone.take_message"))
        elif scenario == "phone_wrong_number":
            say(lib.pick(rng, S, "phone_wrong_number", rule="phone.wrong_number"))
    return _Script(scenario, [], turns, served=False)


# ----------------------------------------------------------------------------- audio


def _trim(audio: np.ndarray, frame: int = 160, threshold_db: float = -45.0) -> np.ndarray:
    """The clip without its leading and trailing silence (the speech span is the truth)."""
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    voiced = np.flatnonzero(20 * np.log10(rms) > threshold_db)
    if voiced.size == 0:
        return audio
    return audio[voiced[0] * frame : (voiced[-1] + 1) * frame]


def _voice(audio: np.ndarray, rate: float) -> np.ndarray:
    """A person's voice: the clip resampled by ``rate`` (pitch and tempo change together)."""
    if abs(rate - 1.0) < 1e-6:
        return audio
    n_out = int(round(len(audio) / rate))
    positions = np.arange(n_out) * rate
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def _lowpass(x: np.ndarray, taps: int) -> np.ndarray:
    kernel = np.hanning(taps).astype(np.float32)
    kernel /= kernel.sum()
    return np.convolve(x, kernel, mode="same").astype(np.float32)


def _hall_noise(n: int, babble_clips: list[np.ndarray], nprng: np.random.Generator, babble_share: float) -> np.ndarray:
    """Unit-RMS hall noise: distant voices (muffled, overlapping bank clips) plus pink-ish hiss."""
    hiss = nprng.standard_normal(n).astype(np.float32)
    # 1/f-ish colouring by summing two low-passed copies: cheap and deterministic
    hiss = 0.5 * hiss + _lowpass(hiss, 9) * 2.0 + _lowpass(hiss, 65) * 4.0
    hiss /= float(np.sqrt(np.mean(hiss**2)) + 1e-12)
    babble = np.zeros(n, np.float32)
    if babble_clips and babble_share > 0:
        density = max(6, n // (SAMPLE_RATE_HZ * 2))  # about one distant line starting every 2 s
        for _ in range(density):
            clip = babble_clips[int(nprng.integers(len(babble_clips)))]
            start = int(nprng.integers(-len(clip) // 2, n))
            lo, hi = max(0, start), min(n, start + len(clip))
            if hi > lo:
                babble[lo:hi] += clip[lo - start : hi - start] * float(nprng.uniform(0.3, 1.0))
        babble = _lowpass(babble, 7)  # distance takes the highs
        babble /= float(np.sqrt(np.mean(babble**2)) + 1e-12)
    share = babble_share if babble.any() else 0.0
    return (math.sqrt(share) * babble + math.sqrt(1 - share) * hiss).astype(np.float32)


def _db(value: float) -> float:
    return float(10 ** (value / 20))


# ----------------------------------------------------------------------------- the generator


@dataclass
class GeneratedHall:
    """What :func:`generate_hall` wrote."""

    folder: Path
    truth: dict[str, Any]

    @property
    def recordings(self) -> list[dict[str, Any]]:
        return self.truth["recordings"]


def working_days(first: date, count: int) -> list[date]:
    """``count`` Monday–Friday dates from ``first`` on (the demo avoids holiday periods)."""
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds") if dt.microsecond else dt.isoformat()


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
    rulebook = rulebook or load_rulebook()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("audio", "checkins"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir()
    rng = random.Random(options.seed)
    nprng = np.random.default_rng(options.seed)
    lib = _Library(load_bank())
    clip_cache: dict[str, np.ndarray] = {}

    def clip(line: BankLine) -> np.ndarray:
        if line.id not in clip_cache:
            clip_cache[line.id] = _trim(read_clip(line))
        return clip_cache[line.id]

    size = options.size
    days = working_days(options.first_day, size.days)
    windows = _WINDOWS[: size.windows]
    staff = [
        _Person(f"{1001 + i}", _STAFF_NAMES[i], dept, code, rng.uniform(0.95, 1.06), rng.uniform(-2.0, 2.0))
        for i, (code, _name, dept, _dn) in enumerate(windows)
    ]
    substitute = _Person(_SUBSTITUTE[0], _SUBSTITUTE[1], _SUBSTITUTE[2], None, rng.uniform(0.95, 1.06), 0.0)
    everyone = [*staff, substitute]
    for person, photo in zip(everyone, _ENROLLED_PHOTOS):
        person.photo = photo
    for person in everyone:
        if person.photo is None:
            person.card_no = f"C{person.staff_no}"
    # The substitute covers the last window in the afternoon of the first day; its staff member
    # is on approved 事假 for that afternoon (one filed substitute, one leave record).
    on_leave = staff[-1] if len(staff) > 1 else staff[0]
    leave_day = days[0]

    truth: dict[str, Any] = {
        "version": TRUTH_VERSION,
        "options": options.as_json(),
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "channels": {"0": "staff", "1": "citizen"},
        "levels": {
            "snr_db": options.snr_db,
            "snr_definition": "RMS of each channel's own speaker (bank clips at -20 dBFS, per-person gain) over the RMS of the hall noise on that channel",
            "crosstalk_db": options.crosstalk_db,
            "babble_share": options.babble_share,
        },
        "days": [d.isoformat() for d in days],
        "windows": [{"code": c, "name": n, "department": d, "department_name": dn} for c, n, d, dn in windows],
        "staff": [
            {"staff_no": p.staff_no, "name": p.name, "department": p.department, "window": p.window,
             "checkin": "face" if p.photo else "card", "photo": p.photo, "card_no": p.card_no}
            for p in everyone
        ],
        "substitutes": [],
        "leave": [],
        "recordings": [],
        "interactions": [],
        "utterances": [],
        "queue_calls": [],
        "ratings": [],
        "attendance": {"checkins": [], "expected": []},
        "files": {},
    }
    sub_start = datetime.combine(leave_day, rulebook.attendance.shift_for(leave_day).afternoon_arrive_by)
    sub_end = datetime.combine(leave_day, rulebook.attendance.shift_for(leave_day).afternoon_leave_from)
    truth["substitutes"].append({
        "window": on_leave.window, "substitute": substitute.staff_no, "replaces": on_leave.staff_no,
        "starts_at": _iso(sub_start), "ends_at": _iso(sub_end), "reason": "事假替岗", "filed_at": _iso(sub_start - timedelta(days=1)),
    })
    truth["leave"].append({
        "record_id": f"QJ-{leave_day:%Y%m%d}-{on_leave.staff_no}", "staff": on_leave.staff_no, "leave_type": "事假",
        "start": leave_day.isoformat(), "end": leave_day.isoformat(), "status": "approved",
        "start_half": "afternoon", "end_half": "afternoon",
    })

    babble_pool = [clip(line) for line in lib.lines[:: max(1, len(lib.lines) // 40)]]
    ticket_counter: dict[str, int] = {}
    rating_no = 0
    jobs = [(day, w, half) for day in days for w in range(len(windows)) for half in ("morning", "afternoon")]
    iterator = jobs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(jobs, desc="simulating recordings", unit="rec")
    for day, w, half in iterator:
        code = windows[w][0]
        shift = rulebook.attendance.shift_for(day)
        n_total = size.interactions // 2 + (size.interactions % 2 if half == "morning" else 0)
        if n_total == 0:
            continue
        server = staff[w]
        if half == "afternoon" and day == leave_day and server is on_leave:
            server = substitute
        start_clock = (shift.morning_arrive_by if half == "morning" else shift.afternoon_arrive_by)
        started_at = datetime.combine(day, start_clock) + timedelta(minutes=15 + 3 * w)
        rec_id = f"{code}-{day:%Y%m%d}-{'am' if half == 'morning' else 'pm'}"
        n_phone = min(options.phone_calls if half == "afternoon" or size.interactions < 2 else 0, n_total)
        if size.interactions >= 2 and half == "morning":
            n_phone = 0
        kinds = ["served"] * (n_total - n_phone) + ["phone"] * n_phone
        rng.shuffle(kinds)
        if kinds and kinds[0] == "phone" and len(kinds) > 1:
            kinds[0], kinds[1] = kinds[1], kinds[0]
        rec = _assemble_recording(
            lib, rng, nprng, clip, babble_pool, options, rec_id, code, server, kinds, started_at,
            ticket_counter, truth,
        )
        path = folder / "audio" / f"{code}_{started_at:%Y%m%dT%H%M%S}.flac"
        import soundfile as sf  # imported here: only the generator writes audio

        sf.write(str(path), rec.pop("_audio").T, SAMPLE_RATE_HZ, format="FLAC", subtype="PCM_16")
        rec["path"] = str(path.relative_to(folder))
        truth["recordings"].append(rec)

    # Ratings: a rating belongs to the interaction that just ended; behaviour drives the level.
    for inter in truth["interactions"]:
        if not inter["served"] or rng.random() > options.rating_share:
            continue
        rating_no += 1
        level = _rating_level(rng, inter, rulebook)
        ended = datetime.fromisoformat(inter["ended_at"])
        rated_at = ended + timedelta(seconds=rng.uniform(2.0, min(6.0, inter["gap_after_s"] * 0.5)))
        # The terminal shows whoever logged in at the window in the morning: during the
        # substitution it still shows the replaced member (the seed's 工号 check flags it).
        window_staff = next(p for p in staff if p.window == inter["window"])
        terminal = window_staff
        truth["ratings"].append({
            "serial_no": f"PJ{rated_at:%Y%m%d}{rating_no:04d}",
            "rated_at": _iso(rated_at.replace(microsecond=0)),
            "window": inter["window"],
            "terminal_staff_no": terminal.staff_no,
            "terminal_staff_name": terminal.name,
            "level": level,
            "poor": level in rulebook.ratings.poor,
            "comment": rng.choice(_POOR_COMMENTS if level in rulebook.ratings.poor else _GOOD_COMMENTS),
            "matter": windows[[c for c, *_ in windows].index(inter["window"])][1],
            "interaction": inter["id"],
            "staff_mismatch_expected": terminal.staff_no != inter["staff_no"],
        })
        inter["rating"] = truth["ratings"][-1]["serial_no"]

    _attendance(truth, rng, days, everyone, on_leave, leave_day, rulebook, folder)
    _write_files(folder, truth, windows, everyone, substitute, rulebook)
    (folder / TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("simulated hall in %s: %d recordings, %d interactions, %d utterances, %d ratings",
             folder, len(truth["recordings"]), len(truth["interactions"]), len(truth["utterances"]), len(truth["ratings"]))
    return GeneratedHall(folder, truth)


def _rating_level(rng: random.Random, inter: dict[str, Any], rulebook: Rulebook) -> str:
    """Draw a level; forbidden phrases, missing courtesy and abuse make a 差评 likelier."""
    levels = rulebook.ratings.levels  # best first
    p_poor = 0.04
    if "forbidden" in inter["variants"]:
        p_poor += 0.6
    if "no_greeting" in inter["variants"] or "no_farewell" in inter["variants"]:
        p_poor += 0.2
    if inter["scenario"] == "citizen_abuse":
        p_poor += 0.4
    if inter["scenario"] in ("long_wait", "cannot_satisfy"):
        p_poor += 0.08
    roll = rng.random()
    if roll < p_poor:
        return levels[-1] if rng.random() < 0.5 else levels[-2]
    if roll < p_poor + 0.12:
        return levels[2]
    return levels[0] if rng.random() < 0.65 else levels[1]


def _assemble_recording(lib, rng, nprng, clip, babble_pool, options: SimOptions, rec_id: str, code: str,
                        server: _Person, kinds: list[str], started_at: datetime,
                        ticket_counter: dict[str, int], truth: dict[str, Any]) -> dict[str, Any]:
    """Place the interactions of one recording in time, mix the two microphones, record the truth."""
    events: list[tuple[int, int, np.ndarray, float]] = []  # (start sample, channel, audio, gain)
    t = rng.uniform(4.0, 8.0)  # the recording starts before the first citizen
    citizen_no = len([u for u in truth["utterances"] if u["speaker"] == "citizen"])
    n_served = len([k for k in kinds if k == "served"])
    variants_plan = _plan_variants(rng, n_served, options)
    served_i = 0
    for index, kind in enumerate(kinds):
        inter_id = f"{rec_id}-{index + 1:02d}"
        if kind == "phone":
            scenario = rng.choice(PHONE_SCENARIOS)
            script = _script(lib, rng, scenario, [])
        else:
            scenario = _draw_scenario(rng)
            script = _script(lib, rng, scenario, variants_plan[served_i])
            served_i += 1
        citizen = _Person(f"C{citizen_no + index:03d}", "", "", None, rng.uniform(0.94, 1.08), rng.uniform(-3.0, 3.0))
        jumper = _Person(f"J{citizen_no + index:03d}", "", "", None, rng.uniform(0.94, 1.08), rng.uniform(-3.0, 3.0))
        call_at = None
        if script.served:
            ticket_counter[code] = ticket_counter.get(code, 0) + 1
            call_t = t - rng.uniform(3.0, 6.0)  # the call sounds, the citizen walks up
            call_at = started_at + timedelta(seconds=call_t)
            wait_min = rng.uniform(25, 50) if script.long_wait else rng.uniform(2, 14)
            ticket = f"{code[0]}{ticket_counter[code]:03d}"
            truth["queue_calls"].append({
                "called_at": _iso(call_at.replace(microsecond=0)), "window": code, "ticket_no": ticket,
                "issued_at": _iso((call_at - timedelta(minutes=wait_min)).replace(microsecond=0)),
                "interaction": inter_id,
            })
        first_start = None
        last_end = t
        utt_ids = []
        previous: Role | None = None
        for turn in script.turns:
            pause = turn.pause_before_s
            if previous is not None and turn.speaker is not previous:
                pause = max(pause, rng.uniform(*options.turn_pause_s))
            previous = turn.speaker
            t += pause
            person = server if turn.speaker is Role.STAFF else (jumper if turn.note == "queue_jumper" else citizen)
            audio = _voice(clip(turn.line), person.voice_rate)
            gain = _db(person.gain_db)
            channel = 0 if turn.speaker is Role.STAFF else 1
            start = int(round(t * SAMPLE_RATE_HZ))
            events.append((start, channel, audio, gain))
            dur = len(audio) / SAMPLE_RATE_HZ
            first_start = t if first_start is None else first_start
            utt = {
                "id": f"{inter_id}-{len(utt_ids) + 1:02d}",
                "recording": rec_id,
                "interaction": inter_id,
                "speaker": turn.speaker.value,
                "person": person.staff_no,
                "channel": channel,
                "line_id": turn.line.id,
                "text": turn.line.text,
                "start_s": round(t, 3),
                "end_s": round(t + dur, 3),
                "rule_ids": list(turn.line.expected) if turn.speaker is Role.STAFF else [],
                "optional_rule_ids": list(turn.line.optional) if turn.speaker is Role.STAFF else [],
                "citizen_abuse": turn.speaker is Role.CITIZEN and turn.line.id in _INSULTS,
                "note": turn.note,
            }
            truth["utterances"].append(utt)
            utt_ids.append(utt["id"])
            t += dur
            last_end = t
        # Between citizens the window is quiet for a while (a compressed day: the next citizen is
        # called within half a minute). The telephone rings in idle time, after a longer pause.
        idle_next = index + 1 < len(kinds) and kinds[index + 1] == "phone"
        gap = rng.uniform(50.0, 90.0) if idle_next else rng.uniform(12.0, 25.0)
        inter = {
            "id": inter_id, "recording": rec_id, "window": code, "staff_no": server.staff_no,
            "scenario": scenario, "variants": script.variants, "served": script.served,
            "start_s": round(first_start, 3), "end_s": round(last_end, 3),
            "started_at": _iso(started_at + timedelta(seconds=round(first_start, 3))),
            "ended_at": _iso(started_at + timedelta(seconds=round(last_end, 3))),
            "ticket_no": truth["queue_calls"][-1]["ticket_no"] if call_at is not None else None,
            "long_wait": script.long_wait,
            "gap_after_s": round(gap, 3),
            "utterances": utt_ids,
            "rating": None,
        }
        truth["interactions"].append(inter)
        t += gap
    duration_s = t + 2.0
    n = int(duration_s * SAMPLE_RATE_HZ)
    mix = np.zeros((2, n), np.float32)
    crosstalk = _db(options.crosstalk_db)
    delay = int(0.002 * SAMPLE_RATE_HZ)  # the far microphone hears a voice about 2 ms later
    for start, channel, audio, gain in events:
        end = min(n, start + len(audio))
        mix[channel, start:end] += audio[: end - start] * gain
        other = 1 - channel
        lo, hi = start + delay, min(n, start + delay + len(audio))
        mix[other, lo:hi] += audio[: hi - lo] * gain * crosstalk
    speech_rms = _db(-20.0)  # the bank's clips are normalised to -20 dBFS
    noise_rms = speech_rms / _db(options.snr_db)
    for channel in range(2):
        mix[channel] += _hall_noise(n, babble_pool, nprng, options.babble_share) * noise_rms
    peak = float(np.max(np.abs(mix)))
    if peak > 0.99:  # never clip; levels are relative, so scale both channels together
        mix *= 0.99 / peak
    return {
        "id": rec_id, "window": code, "started_at": _iso(started_at), "duration_s": round(n / SAMPLE_RATE_HZ, 3),
        "staff_no": server.staff_no, "_audio": mix,
    }


def _draw_scenario(rng: random.Random) -> str:
    names = list(SCENARIO_WEIGHTS)
    return rng.choices(names, weights=[SCENARIO_WEIGHTS[n] for n in names])[0]


def _plan_variants(rng: random.Random, n: int, options: SimOptions) -> list[list[str]]:
    """Variants per served interaction: exact shares (rounded), placed at random."""
    plans: list[list[str]] = [[] for _ in range(n)]
    for name, share in (("forbidden", options.forbidden_share), ("no_greeting", options.no_greeting_share),
                        ("no_farewell", options.no_farewell_share)):
        count = int(round(share * n))
        for i in rng.sample(range(n), min(n, count)):
            plans[i].append(name)
    return plans


# ----------------------------------------------------------------------------- attendance


def _attendance(truth: dict[str, Any], rng: random.Random, days: list[date], everyone: list[_Person],
                on_leave: _Person, leave_day: date, rulebook: Rulebook, folder: Path) -> None:
    """Check-ins (face photos or cards) and the expected class of every staff half-day.

    One staff member arrives late, one leaves early, one forgets a check, one is on leave for an
    afternoon (covered by the substitute); everyone else is on time. A visitor's face at the
    terminal is recorded as unknown.
    """
    expected = truth["attendance"]["expected"]
    checks = truth["attendance"]["checkins"]
    others = [p for p in everyone if p is not on_leave and p.window is not None]
    late = others[1 % len(others)] if others else None
    early = others[2 % len(others)] if len(others) > 2 else None
    missing = others[0] if len(others) >= 3 else None
    photo_no = 0

    def check(person: _Person, at: datetime) -> None:
        nonlocal photo_no
        entry = {"staff_no": person.staff_no, "at": _iso(at), "method": "face" if person.photo else "card"}
        if person.photo:
            photo_no += 1
            name = f"checkins/{at:%Y%m%dT%H%M%S}_{person.staff_no}.jpg"
            _terminal_photo(PHOTOS_DIR / person.photo, folder / name, rng)
            entry["image"] = name
        else:
            entry["card_no"] = person.card_no
        checks.append(entry)

    for day in days:
        shift = rulebook.attendance.shift_for(day)
        slots = {
            "morning": (shift.morning_arrive_by, shift.morning_leave_from),
            "afternoon": (shift.afternoon_arrive_by, shift.afternoon_leave_from),
        }
        first_day = day == days[0]
        for person in everyone:
            for half, (arrive, leave) in slots.items():
                status, late_min, early_min = "on_time", 0, 0
                if first_day and person is on_leave and day == leave_day and half == "afternoon":
                    expected.append({"staff_no": person.staff_no, "day": day.isoformat(), "half": half, "status": "leave"})
                    continue
                arrive_at = datetime.combine(day, arrive) - timedelta(minutes=rng.randint(3, 20), seconds=rng.randint(0, 59))
                leave_at = datetime.combine(day, leave) + timedelta(minutes=rng.randint(1, 12), seconds=rng.randint(0, 59))
                skip_arrive = False
                if first_day and person is late and half == "morning":
                    late_min = rng.randint(7, 25)
                    arrive_at = datetime.combine(day, arrive) + timedelta(minutes=late_min, seconds=rng.randint(1, 40))
                    status = "late"
                if first_day and person is early and half == "afternoon":
                    early_min = rng.randint(10, 40)
                    leave_at = datetime.combine(day, leave) - timedelta(minutes=early_min, seconds=rng.randint(1, 40))
                    status = "early_leave"
                if first_day and person is missing and half == "afternoon":
                    skip_arrive = True
                    status = "missing_check"
                if not skip_arrive:
                    check(person, arrive_at)
                check(person, leave_at)
                expected.append({
                    "staff_no": person.staff_no, "day": day.isoformat(), "half": half, "status": status,
                    "late_minutes": late_min, "early_minutes": early_min,
                })
        # A visitor tries the terminal: recorded as an unknown face, never as staff.
        at = datetime.combine(day, slots["morning"][0]) - timedelta(minutes=25)
        name = f"checkins/{at:%Y%m%dT%H%M%S}_unknown.jpg"
        # copied as it is: a face in half profile is found only in some crops and scales
        shutil.copyfile(PHOTOS_DIR / _UNKNOWN_PHOTO, folder / name)
        checks.append({"staff_no": None, "at": _iso(at), "method": "face", "image": name})
    checks.sort(key=lambda c: c["at"])


def _terminal_photo(source: Path, target: Path, rng: random.Random) -> None:
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


# ----------------------------------------------------------------------------- files a site hands over


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write_files(folder: Path, truth: dict[str, Any], windows, everyone: list[_Person], substitute: _Person,
                 rulebook: Rulebook) -> None:
    lines = ["# The simulated hall (windowqa demo): departments, windows, staff, roster, substitutes.", ""]
    seen_depts = set()
    for code, name, dept, dept_name in [*windows, (None, None, substitute.department, _WINDOWS[-1][3])]:
        if dept not in seen_depts:
            seen_depts.add(dept)
            lines += ["[[departments]]", f"code = {_toml_str(dept)}", f"name = {_toml_str(dept_name)}", ""]
    for code, name, dept, _dn in windows:
        lines += ["[[windows]]", f"code = {_toml_str(code)}", f"name = {_toml_str(name)}", f"department = {_toml_str(dept)}",
                  'channel_map = { "0" = "staff", "1" = "citizen" }', ""]
    for p in everyone:
        lines += ["[[staff]]", f"staff_no = {_toml_str(p.staff_no)}", f"name = {_toml_str(p.name)}",
                  f"department = {_toml_str(p.department)}", f"windows = [{_toml_str(p.window)}]" if p.window else "windows = []", ""]
    for day_s in truth["days"]:
        day = date.fromisoformat(day_s)
        shift = rulebook.attendance.shift_for(day)
        for p in everyone:
            if p.window is None:
                continue
            for a, b in ((shift.morning_arrive_by, shift.morning_leave_from), (shift.afternoon_arrive_by, shift.afternoon_leave_from)):
                lines += ["[[roster]]", f"window = {_toml_str(p.window)}", f"staff = {_toml_str(p.staff_no)}",
                          f"starts_at = {_toml_str(datetime.combine(day, a).isoformat())}",
                          f"ends_at = {_toml_str(datetime.combine(day, b).isoformat())}", ""]
    for s in truth["substitutes"]:
        lines += ["[[substitutes]]", f"window = {_toml_str(s['window'])}", f"substitute = {_toml_str(s['substitute'])}",
                  f"replaces = {_toml_str(s['replaces'])}", f"starts_at = {_toml_str(s['starts_at'])}",
                  f"ends_at = {_toml_str(s['ends_at'])}", f"reason = {_toml_str(s['reason'])}", "approved = true", ""]
    (folder / "site.toml").write_text("\n".join(lines), encoding="utf-8")

    def write_csv(name: str, header: list[str], rows: list[list[Any]]) -> None:
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)

    write_csv("queue.csv", ["called_at", "window", "ticket_no", "issued_at"],
              [[q["called_at"], q["window"], q["ticket_no"], q["issued_at"]] for q in truth["queue_calls"]])
    write_csv("ratings.csv", ["serial_no", "rated_at", "window", "staff_no", "staff_name", "level", "comment", "matter"],
              [[r["serial_no"], r["rated_at"], r["window"], r["terminal_staff_no"], r["terminal_staff_name"], r["level"],
                r["comment"], r["matter"]] for r in truth["ratings"]])
    write_csv("leave.csv", ["staff", "leave_type", "start", "end", "status", "start_half", "end_half", "record_id"],
              [[lv["staff"], lv["leave_type"], lv["start"], lv["end"], lv["status"], lv["start_half"], lv["end_half"],
                lv["record_id"]] for lv in truth["leave"]])
    write_csv("checkins.csv", ["at", "method", "image", "card_no"],
              [[c["at"], c["method"], c.get("image", ""), c.get("card_no", "")] for c in truth["attendance"]["checkins"]])
    truth["files"] = {"site": "site.toml", "queue": "queue.csv", "ratings": "ratings.csv", "leave": "leave.csv",
                      "checkins": "checkins.csv", "audio": "audio"}


def load_truth(folder: str | Path) -> dict[str, Any]:
    """Read a generated folder's ``truth.json``.

    Raises:
        SimulationError: missing, unreadable or of another version.
    """
    path = Path(folder) / TRUTH_FILE
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SimulationError(f"{path}: no ground truth here (is {folder} a folder made by `windowqa demo`?)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SimulationError(f"{path}: cannot read the ground truth: {exc}") from None
    if truth.get("version") != TRUTH_VERSION:
        raise SimulationError(f"{path}: ground truth version {truth.get('version')}, expected {TRUTH_VERSION}")
    return truth


__all__ = [
    "GeneratedHall",
    "HallSize",
    "PHONE_SCENARIOS",
    "SCENARIO_WEIGHTS",
    "SIZE_PRESETS",
    "SimOptions",
    "SimulationError",
    "TRUTH_FILE",
    "generate_hall",
    "load_truth",
    "working_days",
]
