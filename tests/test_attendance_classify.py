"""The stored attendance month: ``attendance classify`` writes it, the dashboard's access layer reads it.

On the dashboard tests' hall (tests/_dashboard_support.py) in a SQLite file and in PostgreSQL (when
WINDOWQA_TEST_PG_URL is set), through the real command line where the command line is tested.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from _dashboard_support import ATTENDANCE_MONTH, ATTENDANCE_THROUGH, PASSWORD, populate
from _store_support import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)
from attendance.classify import MonthNotStartedError, classify_and_store, months_to_reclassify
from attendance.store import save_checkin
from models.attendance import CheckIn, CheckMethod, LeaveExtension, LeaveRecord
from models.attendance_db import AttendanceMonthRow, CoverageFlagRow, HalfDayRow, StaffMonthRow
from models.db import init_db, make_engine, make_session_factory
from models.rulebook import load_rulebook
from models.workdays import WorkCalendar
from scoring import access
from scoring.accounts import authenticate
from windowqa.cli import app

RB = load_rulebook()
runner = CliRunner()


@pytest.fixture
def hall(db_url, tmp_path):  # noqa: F811
    url = db_url
    engine = init_db(make_engine(url))
    factory = make_session_factory(engine)
    populate(factory, tmp_path / "archive")
    yield url, factory
    engine.dispose()


def _counts(s) -> tuple[int, ...]:
    return tuple(s.scalar(select(func.count()).select_from(t)) for t in (AttendanceMonthRow, HalfDayRow, StaffMonthRow, CoverageFlagRow))


def test_the_classified_month_is_stored_with_its_circular_lines(hall):
    _, factory = hall
    with factory() as s:
        mgr = authenticate(s, "mgr", PASSWORD)
        view = access.attendance_month(s, mgr, ATTENDANCE_MONTH)
    assert view.through == ATTENDANCE_THROUGH
    lines = {line.staff_no: line for line in view.staff}
    assert set(lines) == {"1001", "1002", "2001", "2002"}
    zhang = lines["1001"]  # 12 minutes late on the 2nd, 事假 on the 3rd
    assert (zhang.name, zhang.working_days, zhang.late_count, zhang.late_minutes, zhang.leave_days, zhang.leave_by_type) == (
        "张敏", 2, 1, 12, 1.0, "事假 1")
    assert (zhang.checks_due, zhang.checks_on_time, zhang.punctuality_rate) == (4, 3, 0.75)
    assert lines["2001"].absenteeism_days == 1.0 and lines["2002"].absenteeism_days == 2.0
    assert lines["1002"].working_days == 1 and lines["1002"].punctuality_rate == 1.0  # a substitute: the day he served
    days = {(d.staff_no, d.day, d.half): d for d in view.days}
    assert days[("1001", date(2026, 3, 2), "morning")].status == "late"
    assert days[("1001", date(2026, 3, 3), "afternoon")].leave_type == "事假"
    assert days[("2001", date(2026, 3, 3), "morning")].absenteeism == "no_leave_filed"
    assert ("1001", date(2026, 3, 2), "afternoon") not in days  # on time: not in the annex
    # 王芳 absent on the 3rd: B01 had nobody on duty in either half
    assert {(c.window, c.day, c.half, c.issue) for c in view.coverage if c.window == "B01"} == {
        ("B01", date(2026, 3, 3), "morning", "uncovered"), ("B01", date(2026, 3, 3), "afternoon", "uncovered")}
    assert {w.window for w in view.windows} >= {"A03", "B01"}


def test_classifying_again_replaces_the_month(hall):
    _, factory = hall
    with factory() as s:
        before = _counts(s)
    with factory() as s, s.begin():
        classify_and_store(s, ATTENDANCE_MONTH, RB, WorkCalendar.from_file(None), through=ATTENDANCE_THROUGH)
    with factory() as s:
        assert _counts(s) == before  # nothing doubled
    with factory() as s, s.begin():  # 王芳 came after all on the 3rd (a check-in entered late)
        for at in ("2026-03-03T08:29", "2026-03-03T12:00", "2026-03-03T13:30", "2026-03-03T17:30"):
            save_checkin(s, CheckIn("2001", datetime.fromisoformat(at), CheckMethod.MANUAL), window_minutes=3)
        classify_and_store(s, ATTENDANCE_MONTH, RB, WorkCalendar.from_file(None), through=ATTENDANCE_THROUGH)
    with factory() as s:
        view = access.attendance_month(s, authenticate(s, "mgr", PASSWORD), ATTENDANCE_MONTH)
        assert s.scalar(select(func.count()).select_from(AttendanceMonthRow)) == 1
    wang = next(line for line in view.staff if line.staff_no == "2001")
    assert (wang.absenteeism_days, wang.checks_on_time, wang.punctuality_rate) == (0.0, 8, 1.0)
    assert not [c for c in view.coverage if c.window == "B01"]


def test_days_not_yet_happened_are_not_classified(hall):
    _, factory = hall
    with factory() as s, s.begin():
        with pytest.raises(MonthNotStartedError):
            classify_and_store(s, "2026-04", RB, WorkCalendar.from_file(None), through=date(2026, 3, 31))
        classify_and_store(s, ATTENDANCE_MONTH, RB, WorkCalendar.from_file(None), through=date(2026, 3, 2))
    with factory() as s:
        view = access.attendance_month(s, authenticate(s, "mgr", PASSWORD), ATTENDANCE_MONTH)
        assert access.attendance_month(s, authenticate(s, "mgr", PASSWORD), "2026-02") is None
    assert view.through == date(2026, 3, 2)
    assert {line.staff_no: line.absenteeism_days for line in view.staff}["2001"] == 0.0  # the 3rd is to come
    assert max(d.day for d in view.days) == date(2026, 3, 2)


def test_staff_see_their_own_stored_attendance_only(hall):
    _, factory = hall
    with factory() as s:
        zhang = authenticate(s, "zhang", PASSWORD)
        view = access.attendance_month(s, zhang, ATTENDANCE_MONTH)
        assert [line.staff_no for line in view.staff] == ["1001"]
        assert {d.staff_no for d in view.days} == {"1001"} and view.windows == [] and view.coverage == []
        with pytest.raises(access.AccessDenied):
            access.attendance_month(s, authenticate(s, "li", PASSWORD), ATTENDANCE_MONTH, staff_id=zhang.staff_id)


def test_leave_entered_later_reclassifies_the_months_it_touches():
    leave = LeaveRecord("1001", "事假", date(2026, 2, 26), date(2026, 2, 27), extensions=(LeaveExtension(date(2026, 3, 31)),))
    assert months_to_reclassify([leave], today=date(2026, 3, 10)) == ["2026-02", "2026-03"]
    assert months_to_reclassify([leave], today=date(2026, 2, 1)) == []  # not begun yet
    # an absence right after a leave ending on the month's last day is 超假 in the next month
    assert months_to_reclassify([LeaveRecord("1001", "事假", date(2026, 1, 30), date(2026, 1, 31))], today=date(2026, 3, 1)) == [
        "2026-01", "2026-02"]


def test_the_cli_report_and_the_dashboard_classify_the_month_alike(hall, tmp_path, monkeypatch):
    """Both take the work calendar from the settings: a site day off counts the same in both."""
    url, factory = hall
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('[[day]]\ndate = "2026-03-03"\nkind = "off"\nnote = "site closed"\n', encoding="utf-8")
    monkeypatch.setenv("WINDOWQA_DATABASE_URL", url)
    monkeypatch.setenv("WINDOWQA_CALENDAR_PATH", str(calendar))
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    daily = runner.invoke(app, ["attendance", "classify", "--day", "2026-03-02"])
    assert daily.exit_code == 0 and f"{ATTENDANCE_MONTH}: classified through 2026-03-02" in daily.output, daily.output
    outside = runner.invoke(app, ["attendance", "classify", "--month", "2026-04", "--day", "2026-03-02"])
    assert outside.exit_code == 2 and "inside the month" in outside.output
    stored = runner.invoke(app, ["attendance", "classify", "--month", ATTENDANCE_MONTH])
    assert stored.exit_code == 0, stored.output
    assert f"{ATTENDANCE_MONTH}: classified through 2026-03-31" in stored.output
    # leave entered afterwards classifies its month again: 赵磊's absence on the 2nd becomes 病假
    leaves = tmp_path / "leaves.csv"
    leaves.write_text("staff,leave_type,start,end,status,record_id\n2002,病假,2026-03-02,2026-03-02,approved,L-9\n", encoding="utf-8")
    imported = runner.invoke(app, ["attendance", "leave-import", str(leaves)])
    assert imported.exit_code == 0 and f"{ATTENDANCE_MONTH}: classified through 2026-03-31" in imported.output, imported.output
    report = runner.invoke(app, ["attendance", "report", "--month", ATTENDANCE_MONTH, "--format", "csv"])
    assert report.exit_code == 0, report.output
    staff_part = report.output.split("\n\n")[0].strip()
    printed = {row["工号"]: row for row in csv.DictReader(io.StringIO(staff_part))}
    with factory() as s:
        view = access.attendance_month(s, authenticate(s, "mgr", PASSWORD), ATTENDANCE_MONTH)
        head = s.scalar(select(AttendanceMonthRow))
    assert head.calendar == str(calendar)
    shown = {line.staff_no: line for line in view.staff}
    assert set(shown) == set(printed)
    for staff_no, row in printed.items():
        line = shown[staff_no]
        assert (int(row["工作日"]), int(row["迟到分钟"]), float(row["旷工天数"]), float(row["请假天数"]), int(row["缺卡次数"])) == (
            line.working_days, line.late_minutes, line.absenteeism_days, line.leave_days, line.missing_checks), staff_no
        assert row["准时率"] == ("" if line.punctuality_rate is None else str(round(line.punctuality_rate * 100, 1))), staff_no
    # the site's day off is no working day in either: March 2026 has 22 weekdays
    assert shown["1001"].working_days == 21 and shown["1001"].leave_days == 0.0
    assert (shown["2002"].leave_days, shown["2002"].leave_by_type) == (1.0, "病假 1")
