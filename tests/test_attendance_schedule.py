"""The schedule rules on a month of real-looking check-in logs (15 Sep - 15 Oct 2025).

The month crosses the summer/winter switch (30 Sep / 1 Oct), the National Day holiday (1-8 Oct),
two make-up working days (Sun 28 Sep, Sat 11 Oct) and a site closure from the site calendar
file. Three windows: W01 (two staff), W02 (one staff, with a substitute), W03 (two staff).
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, time, timedelta

import pytest

from attendance.checkin import collapse_checkins
from attendance.presence import PresenceOptions, presence_flags
from attendance.report import month_bounds, monthly_circular, render_csv, render_details, render_table, write_xlsx
from attendance.schedule import UnknownLeaveTypeError, check_coverage, classify_day, classify_month, sessions_for
from models.workdays import CalendarFileError, WorkCalendar
from models.attendance import (
    AbsenteeismCause,
    CheckIn,
    CheckMethod,
    CoverageIssue,
    DayType,
    HalfDay,
    HalfDayStatus,
    LeaveExtension,
    LeaveRecord,
    LeaveStatus,
    PresenceIssue,
    PresenceSample,
    Substitute,
    WindowDuty,
)

FIRST, LAST = date(2025, 9, 15), date(2025, 10, 15)
A, B, C, D, E, SUB = "1001", "1002", "2001", "3001", "3002", "9001"
WINDOWS = [WindowDuty("W01", (A, B), "不动产登记"), WindowDuty("W02", (C,), "公积金"), WindowDuty("W03", (D, E), "社保")]
STAFF = [A, B, C, D, E, SUB]

LEAVES = [
    # 旷工 case 2: 事假 refused (and one still pending on the day), stayed away anyway
    LeaveRecord(B, "事假", date(2025, 9, 18), date(2025, 9, 18), LeaveStatus.REJECTED, record_id="L1"),
    LeaveRecord(B, "事假", date(2025, 10, 13), date(2025, 10, 13), LeaveStatus.PENDING, record_id="L2"),
    # 旷工 case 3: 病假 approved to 24 Sep, extension to 26 Sep refused, back only on 29 Sep
    # (the 28th is a Sunday make-up working day: still overrun)
    LeaveRecord(B, "病假", date(2025, 9, 23), date(2025, 9, 24), LeaveStatus.APPROVED,
                extensions=(LeaveExtension(date(2025, 9, 26), LeaveStatus.REJECTED),), record_id="L3"),
    # 旷工 case 4: 事假 approved but marked as obtained by deception
    LeaveRecord(D, "事假", date(2025, 9, 19), date(2025, 9, 19), LeaveStatus.APPROVED, deceptive=True, record_id="L4"),
    # the one-person window: 年假 with a filed substitute, then a day with an unfiled one
    LeaveRecord(C, "年假", date(2025, 9, 22), date(2025, 9, 25), LeaveStatus.APPROVED, record_id="L5"),
    # a half-day 事假 (afternoon of 30 Sep)
    LeaveRecord(C, "事假", date(2025, 9, 30), date(2025, 9, 30), LeaveStatus.APPROVED, start_half=HalfDay.AFTERNOON,
                record_id="L6"),
    # 事假 with a filed substitute who never came
    LeaveRecord(C, "事假", date(2025, 9, 26), date(2025, 9, 26), LeaveStatus.APPROVED, record_id="L7"),
    # W03: both staff on 年假 together, no substitute; D's extension to the 11th approved, E stays away on the 11th
    LeaveRecord(D, "年假", date(2025, 10, 9), date(2025, 10, 10), LeaveStatus.APPROVED,
                extensions=(LeaveExtension(date(2025, 10, 11), LeaveStatus.APPROVED),), record_id="L8"),
    LeaveRecord(E, "年假", date(2025, 10, 9), date(2025, 10, 10), LeaveStatus.APPROVED, record_id="L9"),
]
SUBSTITUTES = [
    Substitute("W02", SUB, date(2025, 9, 22), date(2025, 9, 24), replaces_staff_id=C, filed=True),
    Substitute("W02", SUB, date(2025, 9, 25), date(2025, 9, 25), replaces_staff_id=C, filed=False),
    Substitute("W02", SUB, date(2025, 9, 26), date(2025, 9, 26), replaces_staff_id=C, filed=True),
]
SITE_CALENDAR = """
[[day]]
date = "2025-10-15"
kind = "off"
note = "大厅电力检修"
"""


def _at(day: date, hhmm: str, second: int = 0) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime.combine(day, time(h, m, second))


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    path = tmp_path_factory.mktemp("site") / "calendar.toml"
    path.write_text(SITE_CALENDAR, encoding="utf-8")
    return WorkCalendar.from_file(path)


def _normal_day(rng: random.Random, sid: str, day: date, rulebook) -> list[CheckIn]:
    """Four on-time checks with a realistic spread, sometimes a double tap at the terminal."""
    morning, afternoon = sessions_for(day, rulebook.attendance)
    times = [
        morning.start - timedelta(minutes=rng.randint(2, 25), seconds=rng.randint(0, 59)),
        morning.end + timedelta(minutes=rng.randint(0, 8), seconds=rng.randint(0, 59)),
        afternoon.start - timedelta(minutes=rng.randint(1, 20), seconds=rng.randint(0, 59)),
        afternoon.end + timedelta(minutes=rng.randint(0, 15), seconds=rng.randint(0, 59)),
    ]
    out = [CheckIn(sid, t) for t in times]
    if rng.random() < 0.2:
        out.append(CheckIn(sid, times[0] + timedelta(seconds=rng.randint(5, 90))))  # pressed twice
    return out


def _absent(sid, day):
    return lambda c: not (c.staff_id == sid and c.at.date() == day)


@pytest.fixture(scope="module")
def log(rulebook, calendar):
    """The hall's raw check-in log of the month, deviations applied to an ordinary month."""
    rng = random.Random(20250915)
    raw: list[CheckIn] = []
    d = FIRST
    while d <= LAST:
        if calendar.is_working(d):
            for sid in STAFF:
                if sid == SUB and not any(s.start <= d <= s.end for s in SUBSTITUTES):
                    continue
                raw.extend(_normal_day(rng, sid, d, rulebook))
        d += timedelta(days=1)
    drop = [
        _absent(A, date(2025, 9, 17)),  # 旷工 case 1
        _absent(B, date(2025, 9, 18)), _absent(B, date(2025, 10, 13)),  # case 2
        *[_absent(B, date(2025, 9, n)) for n in (23, 24, 25, 26, 28)],  # leave, then case 3 (overrun)
        _absent(D, date(2025, 9, 19)),  # case 4
        *[_absent(C, date(2025, 9, n)) for n in (22, 23, 24, 25, 26)],
        *[_absent(x, date(2025, 10, n)) for x in (D, E) for n in (9, 10)],
        _absent(D, date(2025, 10, 11)), _absent(E, date(2025, 10, 11)),
        _absent(SUB, date(2025, 9, 26)),  # the filed substitute never came
        # E forgets the morning leave check on 22 Sep
        lambda c: not (c.staff_id == E and c.at.date() == date(2025, 9, 22) and time(11, 0) < c.at.time() < time(13, 0)),
        # C: afternoon of 30 Sep on leave
        lambda c: not (c.staff_id == C and c.at.date() == date(2025, 9, 30) and c.at.time() > time(12, 30)),
        # A: late and early on 16 Sep (summer) and 13 Oct (winter): replaced below
        lambda c: not (c.staff_id == A and c.at.date() in (date(2025, 9, 16), date(2025, 10, 13))),
    ]
    raw = [c for c in raw if all(keep(c) for keep in drop)]
    raw += [
        # summer: 8:37:20 is 7 minutes late; 13:50 is on time (14:00 in summer); leaves 17:45 (15 min early)
        CheckIn(A, _at(date(2025, 9, 16), "08:37", 20)), CheckIn(A, _at(date(2025, 9, 16), "12:03")),
        CheckIn(A, _at(date(2025, 9, 16), "13:50")), CheckIn(A, _at(date(2025, 9, 16), "17:45")),
        CheckIn(A, _at(date(2025, 9, 16), "17:46")),  # double tap: collapses
        # winter: 13:50 is 20 minutes late (13:30), 17:20 is 10 minutes early (17:30); 8:30:59 is still on time
        CheckIn(A, _at(date(2025, 10, 13), "08:30", 59)), CheckIn(A, _at(date(2025, 10, 13), "12:00")),
        CheckIn(A, _at(date(2025, 10, 13), "13:50")), CheckIn(A, _at(date(2025, 10, 13), "17:20")),
        # somebody works on a holiday: it stays a day off
        CheckIn(C, _at(date(2025, 10, 3), "09:00")), CheckIn(C, _at(date(2025, 10, 3), "11:00")),
        # an unknown face and a card check-in
        CheckIn(None, _at(date(2025, 9, 16), "08:15")),
        CheckIn(B, _at(date(2025, 9, 29), "08:05"), CheckMethod.CARD),
    ]
    return collapse_checkins(raw, rulebook.attendance.duplicate_window_minutes)


@pytest.fixture(scope="module")
def records(log, rulebook, calendar):
    recs = classify_month(STAFF, FIRST, LAST, log, LEAVES, rulebook, calendar)
    return {(r.staff_id, r.day): r for r in recs}


def _half(records, sid, day, half=HalfDay.MORNING):
    rec = records[(sid, day)]
    return rec.morning if half is HalfDay.MORNING else rec.afternoon


# ---------------------------------------------------------------------------- calendar and seasons


def test_calendar_has_holidays_make_up_days_and_site_days(calendar):
    assert calendar.day_type(date(2025, 9, 15)) is DayType.WORKDAY
    assert calendar.day_type(date(2025, 9, 27)) is DayType.WEEKEND
    assert calendar.day_type(date(2025, 9, 28)) is DayType.MAKEUP_WORKDAY  # Sunday, 调休
    assert calendar.day_type(date(2025, 10, 1)) is DayType.HOLIDAY
    assert calendar.day_type(date(2025, 10, 4)) is DayType.HOLIDAY  # a Saturday inside the holiday
    assert calendar.day_type(date(2025, 10, 8)) is DayType.HOLIDAY  # a Wednesday moved into it
    assert calendar.day_type(date(2025, 10, 11)) is DayType.MAKEUP_WORKDAY  # Saturday, 调休
    assert calendar.day_type(date(2025, 10, 15)) is DayType.SITE_OFF
    assert [d.day for d in calendar.working_days(date(2025, 10, 1), date(2025, 10, 15))] == [9, 10, 11, 13, 14]


def test_site_calendar_file_errors_name_the_entry(tmp_path):
    bad = tmp_path / "cal.toml"
    bad.write_text('[[day]]\ndate = "2025-10-15"\nkind = "holiday"\n', encoding="utf-8")
    with pytest.raises(CalendarFileError, match=r"day\[0\] \(2025-10-15\).*kind"):
        WorkCalendar.from_file(bad)
    with pytest.raises(CalendarFileError, match="not found"):
        WorkCalendar.from_file(tmp_path / "missing.toml")


def test_season_times_come_from_the_rulebook(rulebook):
    summer = sessions_for(date(2025, 9, 30), rulebook.attendance)
    winter = sessions_for(date(2025, 10, 1), rulebook.attendance)
    assert [s.start.time() for s in summer] == [time(8, 30), time(14, 0)]
    assert [s.end.time() for s in summer] == [time(12, 0), time(18, 0)]
    assert [s.start.time() for s in winter] == [time(8, 30), time(13, 30)]
    assert [s.end.time() for s in winter] == [time(12, 0), time(17, 30)]


# ---------------------------------------------------------------------------- classification


def test_ordinary_days_are_on_time(records):
    day = records[(A, date(2025, 9, 15))]
    assert day.morning.status is HalfDayStatus.ON_TIME and day.afternoon.status is HalfDayStatus.ON_TIME
    assert day.rulebook_version
    assert records[(B, date(2025, 9, 28))].day_type is DayType.MAKEUP_WORKDAY


def test_late_and_early_in_summer_and_winter(records):
    summer = records[(A, date(2025, 9, 16))]
    assert summer.morning.status is HalfDayStatus.LATE and summer.morning.late_minutes == 7
    assert summer.afternoon.late_minutes == 0  # 13:50 is on time in summer
    assert summer.afternoon.status is HalfDayStatus.EARLY_LEAVE and summer.afternoon.early_minutes == 15
    winter = records[(A, date(2025, 10, 13))]
    assert winter.morning.status is HalfDayStatus.ON_TIME  # 8:30:59 is still 8:30
    assert winter.afternoon.status is HalfDayStatus.LATE_AND_EARLY
    assert (winter.afternoon.late_minutes, winter.afternoon.early_minutes) == (20, 10)


def test_missing_check(records):
    half = _half(records, E, date(2025, 9, 22))
    assert half.status is HalfDayStatus.MISSING_CHECK
    assert [s.value for s in half.missing_checks] == ["morning_leave"]


def test_holidays_and_site_days_are_off_even_with_checks(records):
    assert records[(C, date(2025, 10, 3))].morning.status is HalfDayStatus.OFF
    assert records[(A, date(2025, 10, 15))].day_type is DayType.SITE_OFF
    assert records[(A, date(2025, 10, 15))].afternoon.status is HalfDayStatus.OFF


@pytest.mark.parametrize(
    "sid, day, cause",
    [
        (A, date(2025, 9, 17), AbsenteeismCause.NO_LEAVE_FILED),  # (1) 未履行请假手续
        (B, date(2025, 9, 18), AbsenteeismCause.LEAVE_NOT_APPROVED),  # (2) refused
        (B, date(2025, 10, 13), AbsenteeismCause.LEAVE_NOT_APPROVED),  # (2) still pending
        (B, date(2025, 9, 25), AbsenteeismCause.LEAVE_OVERRUN),  # (3) extension refused
        (B, date(2025, 9, 26), AbsenteeismCause.LEAVE_OVERRUN),
        (B, date(2025, 9, 28), AbsenteeismCause.LEAVE_OVERRUN),  # still away on the Sunday make-up day
        (E, date(2025, 10, 11), AbsenteeismCause.LEAVE_OVERRUN),  # (3) stayed away after the leave, nothing filed
        (D, date(2025, 9, 19), AbsenteeismCause.LEAVE_BY_DECEPTION),  # (4)
    ],
)
def test_every_absenteeism_case(records, sid, day, cause):
    rec = records[(sid, day)]
    for half in rec.halves:
        assert half.status is HalfDayStatus.ABSENTEEISM
        assert half.absenteeism is cause, (sid, day, half.half)


def test_approved_leave_and_extension_are_leave(records):
    assert _half(records, B, date(2025, 9, 23)).status is HalfDayStatus.LEAVE
    assert _half(records, B, date(2025, 9, 23)).leave_type == "病假"
    assert _half(records, D, date(2025, 10, 11)).status is HalfDayStatus.LEAVE  # approved extension
    assert _half(records, B, date(2025, 9, 29)).status is HalfDayStatus.ON_TIME  # back (by card)
    half_day = records[(C, date(2025, 9, 30))]
    assert half_day.morning.status is HalfDayStatus.ON_TIME
    assert half_day.afternoon.status is HalfDayStatus.LEAVE and half_day.afternoon.leave_type == "事假"


def test_an_approved_leave_wins_over_a_refused_request(rulebook, calendar):
    day = date(2025, 9, 15)
    leaves = [LeaveRecord(A, "事假", day, day, LeaveStatus.REJECTED), LeaveRecord(A, "病假", day, day, LeaveStatus.APPROVED)]
    rec = classify_day(A, day, [], leaves, rulebook, calendar)
    assert rec.morning.status is HalfDayStatus.LEAVE and rec.morning.leave_type == "病假"


def test_unknown_leave_type_is_refused(rulebook, calendar):
    with pytest.raises(UnknownLeaveTypeError, match="调休假"):
        classify_day(A, date(2025, 9, 15), [], [LeaveRecord(A, "调休假", date(2025, 9, 15), date(2025, 9, 15))], rulebook, calendar)


# ---------------------------------------------------------------------------- substitutes


def test_substitutes_and_uncovered_windows(records):
    flags = check_coverage(WINDOWS, records.values(), SUBSTITUTES)
    by = {(f.window_id, f.day, f.half, f.issue) for f in flags}
    am, pm = HalfDay.MORNING, HalfDay.AFTERNOON
    # filed substitute served: no flag on W02 while C is on leave 22-24 Sep
    assert not [f for f in flags if f.window_id == "W02" and date(2025, 9, 22) <= f.day <= date(2025, 9, 24)]
    # 25 Sep: the substitute was not filed beforehand
    assert ("W02", date(2025, 9, 25), am, CoverageIssue.SUBSTITUTE_NOT_FILED) in by
    # 26 Sep: the filed substitute never came: nobody at the window
    assert ("W02", date(2025, 9, 26), pm, CoverageIssue.UNCOVERED) in by
    # W03: both staff on leave on 9-10 Oct and nobody filed to cover
    for day in (date(2025, 10, 9), date(2025, 10, 10)):
        assert ("W03", day, am, CoverageIssue.LEAVE_WITHOUT_SUBSTITUTE) in by
    # 11 Oct: D on leave, E absent without leave: the window is empty
    assert ("W03", date(2025, 10, 11), am, CoverageIssue.UNCOVERED) in by
    # W01 with one of two staff away is still covered
    assert not [f for f in flags if f.window_id == "W01"]
    # 30 Sep afternoon: the one-person window's half-day leave had no substitute either (四.(三).1)
    assert ("W02", date(2025, 9, 30), pm, CoverageIssue.LEAVE_WITHOUT_SUBSTITUTE) in by
    assert len(flags) == 2 + 2 + 1 + 4 + 2, [(f.window_id, str(f.day), f.half.value, f.issue.value) for f in flags]


# ---------------------------------------------------------------------------- presence


def test_presence_flags_long_absences_and_empty_windows(rulebook, calendar):
    day = date(2025, 9, 16)
    samples = []
    t = _at(day, "08:30")
    while t <= _at(day, "12:00"):
        present = {A, B}
        if _at(day, "09:30") <= t < _at(day, "09:45"):
            present.discard(A)  # 15 minutes away: over the 10-minute limit
        if _at(day, "10:00") <= t < _at(day, "10:05"):
            present.discard(B)  # 5 minutes: allowed (三.3)
        if _at(day, "11:00") <= t < _at(day, "11:04"):
            present.clear()  # both away at once (三.8)
        if not (_at(day, "10:20") <= t < _at(day, "10:40")):  # the camera was down: not an absence
            samples.append(PresenceSample("W01", t, frozenset(present)))
        t += timedelta(minutes=1)
    samples.append(PresenceSample("W01", _at(day, "12:40"), frozenset()))  # lunch: outside service hours
    flags = presence_flags(samples, {"W01": [A, B]}, rulebook, calendar, PresenceOptions(max_sample_gap_s=180))
    assert [(f.issue, f.staff_ids, f.start.time(), f.end.time()) for f in flags] == [
        (PresenceIssue.AWAY_TOO_LONG, (A,), time(9, 30), time(9, 45)),
        (PresenceIssue.ALL_STAFF_AWAY, (A, B), time(11, 0), time(11, 4)),
    ]
    assert flags[0].duration_min == 15


# ---------------------------------------------------------------------------- the monthly circular


def test_monthly_circular_counts(records, tmp_path):
    first, last = month_bounds("2025-09")
    month_records = [r for r in records.values() if first <= r.day <= last]
    coverage = check_coverage(WINDOWS, month_records, SUBSTITUTES)
    staff_lines, window_lines = monthly_circular("2025-09", WINDOWS, month_records, STAFF, coverage)
    line = {s.staff_id: s for s in staff_lines}
    # 15-30 Sep: 12 weekdays + the Sunday make-up day
    assert line[A].working_days == 13
    assert (line[A].late_count, line[A].late_minutes, line[A].early_count, line[A].early_minutes) == (1, 7, 1, 15)
    assert line[A].absenteeism_days == 1.0
    assert line[B].absenteeism_days == 4.0  # 18th + 25th, 26th, 28th
    assert line[B].leave_days == 2.0 and line[B].leave_by_type == {"病假": 2.0}
    assert line[C].leave_days == 5.5 and line[C].leave_by_type == {"年假": 4.0, "事假": 1.5}
    assert line[E].missing_checks == 1
    # 13 days x 4 checks due; one late, one early, four missed on the 旷工 day
    assert (line[A].checks_due, line[A].checks_on_time) == (52, 46)
    w = {x.window_id: x for x in window_lines}
    assert w["W02"].coverage_flags == 5 and w["W01"].coverage_flags == 0
    assert w["W01"].absenteeism_days == 5.0

    details = render_details(month_records)
    assert "1002  2025-09-18  上午  旷工（请假未获批准） 事假" in details
    assert "1002  2025-09-28  下午  旷工（超假不归） 病假" in details
    assert "1001  2025-09-16  上午  迟到7分钟" in details
    assert "1001  2025-09-16  下午  早退15分钟" in details
    assert "3002  2025-09-22  上午  缺离岗卡" in details
    table = render_table(staff_lines, window_lines, "2025-09")
    assert "考勤月度通报 2025-09" in table and "旷工天数" in table
    rows = list(csv.reader(io.StringIO(render_csv(staff_lines, window_lines))))
    assert rows[0][0] == "工号" and rows[1][0] == A
    from openpyxl import load_workbook

    wb = load_workbook(write_xlsx(tmp_path / "m.xlsx", staff_lines, window_lines, "2025-09"))
    assert wb.sheetnames == ["按人员", "按窗口"]
    assert wb["按人员"]["A2"].value == A and wb["按窗口"].max_row == 4
