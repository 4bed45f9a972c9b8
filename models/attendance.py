"""Attendance domain types (四 考勤规范, 三 岗位管理): check-ins, leave, substitutes, day records.

Small frozen dataclasses handed between the attendance stage, the store and the reports.
Nothing here loads a model or touches a database. Times are naive local wall-clock
(Beijing time) ``datetime``s; a day is a ``date``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class CheckMethod(str, enum.Enum):
    """How a check-in was made; the non-biometric ones are recorded as such."""

    FACE = "face"
    CARD = "card"  # staff card number entered or swiped at the terminal
    PIN = "pin"  # 工号 + PIN at the terminal
    MANUAL = "manual"  # entered by 督查考核科 (e.g. a terminal failure), with a note


class SecondFactor(str, enum.Enum):
    """What confirmed a face that was within the threshold but not clearly (a look-alike risk)."""

    CARD = "card"
    PIN = "pin"
    FRAME = "frame"  # a second frame of the same burst clearly inside the threshold


class CheckSlot(str, enum.Enum):
    """The four daily checks (四.(一).1)."""

    MORNING_ARRIVE = "morning_arrive"
    MORNING_LEAVE = "morning_leave"
    AFTERNOON_ARRIVE = "afternoon_arrive"
    AFTERNOON_LEAVE = "afternoon_leave"


class HalfDay(str, enum.Enum):
    MORNING = "morning"
    AFTERNOON = "afternoon"


class DayType(str, enum.Enum):
    """What kind of day a date is for the hall."""

    WORKDAY = "workday"
    MAKEUP_WORKDAY = "makeup_workday"  # 调休上班: a weekend day worked instead of a holiday
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # public holiday (including the weekdays moved into it)
    SITE_WORKDAY = "site_workday"  # made a working day by the site calendar file
    SITE_OFF = "site_off"  # made a day off by the site calendar file

    @property
    def is_working(self) -> bool:
        return self in (DayType.WORKDAY, DayType.MAKEUP_WORKDAY, DayType.SITE_WORKDAY)


class LeaveStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalLevel(str, enum.Enum):
    """A level of the leave approval chain (逐级申请, 四.(二).1), in the order a request climbs it."""

    DEPARTMENT_HEAD = "department_head"  # 本部门负责人员
    CENTRE = "centre"  # 督查考核科


class LeaveSource(str, enum.Enum):
    """Where a leave record came from."""

    FILE = "file"  # a leave file: its status is the outcome of an approval made outside windowqa
    DASHBOARD = "dashboard"  # requested on the dashboard: its status follows the approval chain


class AttendanceAppealStatus(str, enum.Enum):
    """A staff member's appeal against the classification of one half-day."""

    PENDING = "pending"
    GRANTED = "granted"  # the half-day counts as on time
    REJECTED = "rejected"  # the classification stands


class AbsenteeismCause(str, enum.Enum):
    """The four cases of 旷工 (四.(二).4)."""

    NO_LEAVE_FILED = "no_leave_filed"  # (1) 未履行请假手续不上班
    LEAVE_NOT_APPROVED = "leave_not_approved"  # (2) 请假未获批准不上班
    LEAVE_OVERRUN = "leave_overrun"  # (3) 无正当理由超假不归 (extension not approved)
    LEAVE_BY_DECEPTION = "leave_by_deception"  # (4) 以欺骗手段请事假或病假不上班


class HalfDayStatus(str, enum.Enum):
    """The summary of one half-day, worst first when several apply."""

    OFF = "off"  # not a working day
    LEAVE = "leave"  # covered by approved leave
    ABSENTEEISM = "absenteeism"  # 旷工: absent without approved leave
    MISSING_CHECK = "missing_check"  # one of the two checks of the half-day is missing
    LATE_AND_EARLY = "late_and_early"
    LATE = "late"
    EARLY_LEAVE = "early_leave"
    ON_TIME = "on_time"


class CoverageIssue(str, enum.Enum):
    """Why a window was flagged for a half-day (四.(三) 替岗制度, 三.4)."""

    UNCOVERED = "uncovered"  # nobody on duty at the window in service hours
    LEAVE_WITHOUT_SUBSTITUTE = "leave_without_substitute"  # all its staff on leave, no filed substitute
    SUBSTITUTE_NOT_FILED = "substitute_not_filed"  # a substitute served without 备案 beforehand


class PresenceIssue(str, enum.Enum):
    """What a window camera showed during service hours (三.3, 三.8)."""

    AWAY_TOO_LONG = "away_too_long"  # one person away longer than the rulebook's limit
    ALL_STAFF_AWAY = "all_staff_away"  # every staff member of the window away at once


@dataclass(frozen=True, slots=True)
class CheckIn:
    """One attendance check, biometric or not.

    Attributes:
        staff_id: 工号; None for an unknown face (recorded, never forced onto the nearest staff).
        at: when the check was made (local time).
        method: face, card, PIN or manual.
        terminal: the terminal or camera it came from.
        distance: face distance to the matched staff member (face checks only).
        margin: distance gap to the second-best staff member (face checks only).
        source: the image/video file or camera the face came from, or a note for manual checks.
        collapsed: how many raw checks this one stands for (repeats within minutes collapse).
        second_factor: for a face check that was not clearly inside the threshold, what
            confirmed it (card, PIN or a second frame); None when the face alone sufficed.
    """

    staff_id: str | None
    at: datetime
    method: CheckMethod = CheckMethod.FACE
    terminal: str | None = None
    distance: float | None = None
    margin: float | None = None
    source: str | None = None
    collapsed: int = 1
    second_factor: SecondFactor | None = None

    @property
    def is_unknown(self) -> bool:
        return self.staff_id is None


@dataclass(frozen=True, slots=True)
class LeaveExtension:
    """A request to extend a leave (续假, 四.(二).2) to a new last day."""

    new_end: date
    status: LeaveStatus = LeaveStatus.PENDING
    new_end_half: HalfDay = HalfDay.AFTERNOON


@dataclass(frozen=True, slots=True)
class LeaveRecord:
    """One leave (请假) with its approval and extensions.

    Attributes:
        staff_id: 工号.
        leave_type: the rulebook's name of the type (事假, 病假, 年假 ...).
        start/end: first and last day (inclusive).
        start_half: the leave starts in the afternoon of ``start`` when AFTERNOON.
        end_half: the leave ends after the morning of ``end`` when MORNING.
        status: approval of the leave itself.
        extensions: extension requests in the order filed.
        deceptive: marked by 督查考核科 as obtained by deception (旷工 case 4).
        record_id: the id in the system it was imported from.
    """

    staff_id: str
    leave_type: str
    start: date
    end: date
    status: LeaveStatus = LeaveStatus.APPROVED
    start_half: HalfDay = HalfDay.MORNING
    end_half: HalfDay = HalfDay.AFTERNOON
    extensions: tuple[LeaveExtension, ...] = ()
    deceptive: bool = False
    record_id: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"leave {self.record_id or ''} of {self.staff_id}: ends {self.end} before it starts {self.start}")


@dataclass(frozen=True, slots=True)
class Substitute:
    """A substitute (替岗) serving at a window for some days.

    Attributes:
        window_id: the window covered.
        substitute_staff_id: 工号 of the person standing in.
        start/end: first and last day (inclusive).
        replaces_staff_id: whom they replace, when known.
        filed: reported to 督查考核科 beforehand (备案, 四.(三).2).
        half: only this half-day of each day when set.
    """

    window_id: str
    substitute_staff_id: str
    start: date
    end: date
    replaces_staff_id: str | None = None
    filed: bool = True
    half: HalfDay | None = None

    def covers(self, day: date, half: HalfDay) -> bool:
        return self.start <= day <= self.end and (self.half is None or self.half is half)


@dataclass(frozen=True, slots=True)
class WindowDuty:
    """Who is rostered at a window (the store's duty roster, reduced to what attendance needs)."""

    window_id: str
    staff_ids: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One of the four checks of a day as classified.

    ``minutes_off`` is minutes late for an arrival, minutes early for a leave; 0 when on time.
    """

    slot: CheckSlot
    due: datetime
    at: datetime | None
    minutes_off: int = 0

    @property
    def missing(self) -> bool:
        return self.at is None


@dataclass(frozen=True, slots=True)
class HalfDayRecord:
    """One staff member's half-day, classified."""

    staff_id: str
    day: date
    half: HalfDay
    status: HalfDayStatus
    arrive: CheckResult | None = None
    leave: CheckResult | None = None
    late_minutes: int = 0
    early_minutes: int = 0
    leave_type: str | None = None
    absenteeism: AbsenteeismCause | None = None

    @property
    def missing_checks(self) -> tuple[CheckSlot, ...]:
        if self.status in (HalfDayStatus.OFF, HalfDayStatus.LEAVE, HalfDayStatus.ABSENTEEISM):
            return ()
        return tuple(c.slot for c in (self.arrive, self.leave) if c is not None and c.missing)

    @property
    def present(self) -> bool:
        """At least one check in this half-day (the person came to work)."""
        return any(c is not None and not c.missing for c in (self.arrive, self.leave))


@dataclass(frozen=True, slots=True)
class HalfDayCounts:
    """What one working half-day adds to its staff member's circular line (按月通报)."""

    late: int = 0
    late_minutes: int = 0
    early: int = 0
    early_minutes: int = 0
    missing_checks: int = 0
    absenteeism_days: float = 0.0
    leave_days: float = 0.0
    checks_due: int = 0
    checks_on_time: int = 0

    @classmethod
    def of(cls, status: HalfDayStatus, late_minutes: int, early_minutes: int, missing_checks: int) -> "HalfDayCounts":
        """The counts of a half-day from its status, minutes late/early and missing checks.

        A check on time is one made with no minutes off, so a half-day's on-time checks are its two
        checks less the missing, the late arrival and the early leave.
        """
        if status is HalfDayStatus.OFF:
            return cls()
        if status is HalfDayStatus.LEAVE:
            return cls(leave_days=0.5)
        if status is HalfDayStatus.ABSENTEEISM:
            return cls(absenteeism_days=0.5, checks_due=2)
        return cls(
            late=int(late_minutes > 0), late_minutes=late_minutes, early=int(early_minutes > 0), early_minutes=early_minutes,
            missing_checks=missing_checks, checks_due=2,
            checks_on_time=2 - missing_checks - int(late_minutes > 0) - int(early_minutes > 0),
        )


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One staff member's day: the day type and both half-days."""

    staff_id: str
    day: date
    day_type: DayType
    morning: HalfDayRecord
    afternoon: HalfDayRecord
    rulebook_version: str = ""

    @property
    def halves(self) -> tuple[HalfDayRecord, HalfDayRecord]:
        return (self.morning, self.afternoon)


@dataclass(frozen=True, slots=True)
class CoverageFlag:
    """A window flagged for one half-day."""

    window_id: str
    day: date
    half: HalfDay
    issue: CoverageIssue
    staff_ids: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PresenceSample:
    """Who a window camera recognised in one periodic frame."""

    window_id: str
    at: datetime
    staff_present: frozenset[str] = frozenset()
    unknown_faces: int = 0


@dataclass(frozen=True, slots=True)
class PresenceFlag:
    """An absence from the post seen by a window camera, with its times."""

    window_id: str
    issue: PresenceIssue
    start: datetime
    end: datetime
    staff_ids: tuple[str, ...] = ()

    @property
    def duration_min(self) -> float:
        return (self.end - self.start).total_seconds() / 60.0


@dataclass(frozen=True, slots=True)
class StaffMonth:
    """One staff member's line of the monthly circular (按月通报)."""

    staff_id: str
    window_id: str | None
    month: str  # YYYY-MM
    working_days: int
    late_count: int = 0
    late_minutes: int = 0
    early_count: int = 0
    early_minutes: int = 0
    missing_checks: int = 0
    absenteeism_days: float = 0.0  # 旷工, in days (a half-day counts 0.5)
    leave_days: float = 0.0
    leave_by_type: dict[str, float] = field(default_factory=dict)
    checks_due: int = 0
    checks_on_time: int = 0
    presence_flags: int = 0

    @property
    def punctuality_rate(self) -> float | None:
        """On-time checks over checks due (days on leave excluded); None when none were due."""
        return self.checks_on_time / self.checks_due if self.checks_due else None


@dataclass(frozen=True, slots=True)
class WindowMonth:
    """One window's line of the monthly circular."""

    window_id: str
    month: str
    staff_ids: tuple[str, ...]
    late_count: int = 0
    early_count: int = 0
    missing_checks: int = 0
    absenteeism_days: float = 0.0
    leave_days: float = 0.0
    checks_due: int = 0
    checks_on_time: int = 0
    coverage_flags: int = 0
    presence_flags: int = 0

    @property
    def punctuality_rate(self) -> float | None:
        return self.checks_on_time / self.checks_due if self.checks_due else None
