"""The ground truth of a simulated hall: typed records, and ``truth.json`` as they are written and read.

The truth holds what was said, by whom and when, and what the site's systems recorded; never
the audio itself (the mixer gets that separately). Every record turns into the JSON object that
``truth.json`` has always held (:meth:`to_json`) and back (:meth:`from_json`), so ``windowqa eval
demo`` reads folders made before the records were typed.
"""

from __future__ import annotations

import enum
import functools
import json
import types
import typing
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from models.domain import Role
from windowqa.demo.simulator.options import SimOptions, SimulationError

TRUTH_FILE = "truth.json"
TRUTH_VERSION = 1

# A field that ``truth.json`` leaves out when it is None (e.g. a card check-in has no image).
_OMIT_NONE = {"omit_none": True}


def iso_time(dt: datetime) -> str:
    """A time as the truth writes it: milliseconds only when there are any."""
    return dt.isoformat(timespec="milliseconds") if dt.microsecond else dt.isoformat()


class TruthRecord:
    """Base of the truth's records: conversion to and from their ``truth.json`` objects."""

    def to_json(self) -> dict[str, Any]:
        """The record as ``truth.json`` holds it (times as ISO text, roles as their values)."""
        return {
            f.name: _encode(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if not (f.metadata.get("omit_none") and getattr(self, f.name) is None)
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Any:
        """The record from its ``truth.json`` object.

        Raises:
            KeyError, TypeError, ValueError: a field missing or of the wrong form.
        """
        hints = _hints(cls)
        return cls(**{f.name: _decode(data[f.name], hints[f.name]) for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _encode(value: Any) -> Any:
    if isinstance(value, TruthRecord):
        return value.to_json()
    if isinstance(value, SimOptions):
        return value.as_json()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):  # before date: a datetime is a date
        return iso_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any, tp: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _decode(value, next(a for a in args if a is not type(None)))
    if origin is list:
        return [_decode(v, args[0]) for v in value]
    if origin is dict:
        return {k: _decode(v, args[1]) for k, v in value.items()}
    if tp is datetime:
        return datetime.fromisoformat(value)
    if tp is date:
        return date.fromisoformat(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if isinstance(tp, type) and hasattr(tp, "from_json"):
        return tp.from_json(value)
    return value


@dataclass
class TruthWindow(TruthRecord):
    """A service window of the hall and its department."""

    code: str
    name: str
    department: str
    department_name: str


@dataclass
class TruthStaff(TruthRecord):
    """A staff member (or the substitute, who has no window) and how they check in."""

    staff_no: str
    name: str
    department: str
    window: str | None
    checkin: str  # "face" or "card"
    photo: str | None
    card_no: str | None


@dataclass
class TruthSubstitute(TruthRecord):
    """A filed substitution (替岗): who covers which window, when, filed when."""

    window: str
    substitute: str
    replaces: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    filed_at: datetime


@dataclass
class TruthLeave(TruthRecord):
    """A leave record as the leave system exports it."""

    record_id: str
    staff: str
    leave_type: str
    start: date
    end: date
    status: str
    start_half: str
    end_half: str


@dataclass
class TruthRecording(TruthRecord):
    """A window's half-day stereo recording (``path`` relative to the hall's folder)."""

    id: str
    window: str
    started_at: datetime
    duration_s: float
    staff_no: str
    path: str


@dataclass
class TruthUtterance(TruthRecord):
    """One line said at a window, where it lies in its recording, and the rules it must or may produce.

    Attributes:
        person: 工号 of the staff member, or the citizen's made-up number.
        channel: the speaker's own microphone (0 staff, 1 citizen).
        line_id: the bank line spoken.
        rule_ids: rules a staff line must produce (empty for citizens).
        optional_rule_ids: rules it may produce without penalty.
        citizen_abuse: a citizen's insult to staff.
        note: ``queue_jumper`` (a second citizen), ``phone`` (a telephone call) or empty.
    """

    id: str
    recording: str
    interaction: str
    speaker: Role
    person: str
    channel: int
    line_id: str
    text: str
    start_s: float
    end_s: float
    rule_ids: list[str]
    optional_rule_ids: list[str]
    citizen_abuse: bool
    note: str


@dataclass
class TruthInteraction(TruthRecord):
    """One citizen served (or one telephone call) at a window.

    Attributes:
        staff_no: who served.
        variants: the behaviour drawn for it (``forbidden``, ``no_greeting``, ``no_farewell``).
        served: a citizen at the counter (False: a telephone call).
        start_s, end_s: first and last line, in seconds from the recording's start.
        ticket_no: the queue ticket called for it (None: a telephone call).
        gap_after_s: the quiet time before the next interaction.
        utterances: ids of its lines.
        rating: serial number of its rating, if the citizen rated.
        situations: the 七.1 situations it holds (rule id -> whether staff said the phrase).
    """

    id: str
    recording: str
    window: str
    staff_no: str
    scenario: str
    variants: list[str]
    served: bool
    start_s: float
    end_s: float
    started_at: datetime
    ended_at: datetime
    ticket_no: str | None
    long_wait: bool
    gap_after_s: float
    utterances: list[str]
    rating: str | None = None
    # issue 15: the conduct flags it must raise ("telephone:<rule id>", "personal_call", "retort",
    # "retort:provoked"); scenarios of simulator.conduct without any are look-alikes that must raise none
    conduct: list[str] = field(default_factory=list)
    situations: dict[str, bool] = field(default_factory=dict)
    # the queue ticket's 事项 (queue.csv), when the script set it (else the window's name)
    matter: str | None = None


@dataclass
class TruthQueueCall(TruthRecord):
    """A call event of the queue system (叫号) and the interaction it starts."""

    called_at: datetime
    window: str
    ticket_no: str
    issued_at: datetime
    interaction: str
    matter: str | None = None  # 事项
    citizen_id: str | None = None  # made up; the import keeps only its salted hash


@dataclass
class TruthRepeatVisit(TruthRecord):
    """A citizen who came back (八.3/八.4): ``flag`` True when the same matter must be flagged, False for another matter."""

    first: str
    back: str
    matter: str
    flag: bool


@dataclass
class TruthRating(TruthRecord):
    """A press of the evaluation terminal and the interaction it belongs to.

    Attributes:
        terminal_staff_no: whom the terminal showed (the logged-in member, even during a substitution).
        staff_mismatch_expected: the terminal showed someone other than who served.
    """

    serial_no: str
    rated_at: datetime
    window: str
    terminal_staff_no: str
    terminal_staff_name: str
    level: str
    poor: bool
    comment: str
    matter: str
    interaction: str
    staff_mismatch_expected: bool


@dataclass
class TruthCheckin(TruthRecord):
    """A check at the attendance terminal: a face image (``staff_no`` None: a visitor) or a card."""

    staff_no: str | None
    at: datetime
    method: str  # "face" or "card"
    image: str | None = field(default=None, metadata=_OMIT_NONE)
    card_no: str | None = field(default=None, metadata=_OMIT_NONE)


@dataclass
class TruthHalfDay(TruthRecord):
    """The expected attendance class of one staff half-day (no minutes for a half-day on leave)."""

    staff_no: str
    day: date
    half: str
    status: str
    late_minutes: int | None = field(default=None, metadata=_OMIT_NONE)
    early_minutes: int | None = field(default=None, metadata=_OMIT_NONE)


@dataclass
class TruthAttendance(TruthRecord):
    """Every check at the terminal, in time order, and the expected class of every staff half-day."""

    checkins: list[TruthCheckin] = field(default_factory=list)
    expected: list[TruthHalfDay] = field(default_factory=list)


@dataclass
class TruthLevels(TruthRecord):
    """The levels the recordings were mixed at."""

    snr_db: float
    snr_definition: str
    crosstalk_db: float
    babble_share: float


@dataclass
class TruthFiles(TruthRecord):
    """The files a site hands over, relative to the hall's folder."""

    site: str = "site.toml"
    queue: str = "queue.csv"
    ratings: str = "ratings.csv"
    leave: str = "leave.csv"
    checkins: str = "checkins.csv"
    audio: str = "audio"
    enrolment: str | None = field(default=None, metadata=_OMIT_NONE)  # mono halls: <folder>/<工号>.flac


@dataclass
class HallTruth(TruthRecord):
    """The whole ground truth of one simulated hall (``truth.json``)."""

    version: int
    options: SimOptions
    sample_rate_hz: int
    channels: dict[str, str]
    levels: TruthLevels
    days: list[date]
    windows: list[TruthWindow]
    staff: list[TruthStaff]
    substitutes: list[TruthSubstitute] = field(default_factory=list)
    leave: list[TruthLeave] = field(default_factory=list)
    recordings: list[TruthRecording] = field(default_factory=list)
    interactions: list[TruthInteraction] = field(default_factory=list)
    utterances: list[TruthUtterance] = field(default_factory=list)
    queue_calls: list[TruthQueueCall] = field(default_factory=list)
    ratings: list[TruthRating] = field(default_factory=list)
    repeat_visits: list[TruthRepeatVisit] = field(default_factory=list)
    attendance: TruthAttendance = field(default_factory=TruthAttendance)
    files: TruthFiles = field(default_factory=TruthFiles)


def write_truth(folder: Path, truth: HallTruth) -> None:
    """Write ``truth.json`` into ``folder``."""
    (folder / TRUTH_FILE).write_text(json.dumps(truth.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")


def load_truth(folder: str | Path) -> HallTruth:
    """Read a generated folder's ``truth.json``.

    Raises:
        SimulationError: missing, unreadable, malformed or of another version.
    """
    path = Path(folder) / TRUTH_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SimulationError(f"{path}: no ground truth here (is {folder} a folder made by `windowqa demo`?)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise SimulationError(f"{path}: cannot read the ground truth: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != TRUTH_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise SimulationError(f"{path}: ground truth version {version}, expected {TRUTH_VERSION}")
    try:
        return HallTruth.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SimulationError(f"{path}: malformed ground truth: {exc!r}") from None
