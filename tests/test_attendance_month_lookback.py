"""compute_month looks back a month only for people with leave: same records as classifying everyone from the lookback."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)
from attendance.schedule import classify_month
from attendance.store import compute_month, load_checkins, load_leaves, save_checkin, save_leave
from models.attendance import AbsenteeismCause, CheckIn, HalfDayStatus, LeaveExtension, LeaveRecord, LeaveStatus
from models.db import Staff, Window, init_db, make_engine, make_session_factory
from models.workdays import WorkCalendar


@pytest.fixture
def factory(db_url):  # noqa: F811
    engine = init_db(make_engine(db_url))
    yield make_session_factory(engine)
    engine.dispose()


def _checks(staff_no: str, day: date) -> list[CheckIn]:
    return [CheckIn(staff_no, datetime.combine(day, datetime.min.time()) + timedelta(hours=h, minutes=m))
            for h, m in ((8, 20), (12, 2), (13, 50), (18, 5))]


def test_absence_after_last_months_leave_is_overrun(factory, rulebook):
    calendar = WorkCalendar()
    away = {  # who did not check in when
        "1001": {date(2025, 9, 1), date(2025, 9, 2)},  # right after a leave that ended in August: 超假
        "1002": {date(2025, 9, 1)},  # no leave at all: 未请假
        "1003": {date(2025, 9, 3)},  # extension to 09-03 refused: 超假 (case 3)
    }
    with factory() as s, s.begin():
        w = Window(code="W01", name="不动产")
        s.add_all([w] + [Staff(staff_no=no, name=no, windows=[w]) for no in ("1001", "1002", "1003")])
        s.flush()
        for day in calendar.working_days(date(2025, 8, 1), date(2025, 9, 12)):
            for no in ("1001", "1002", "1003"):
                on_leave = no in ("1001", "1003") and date(2025, 8, 25) <= day <= date(2025, 8, 29)
                if not on_leave and day not in away[no]:
                    for c in _checks(no, day):
                        save_checkin(s, c, window_minutes=5)
        save_leave(s, LeaveRecord("1001", "事假", date(2025, 8, 25), date(2025, 8, 29), LeaveStatus.APPROVED, record_id="L1"))
        save_leave(s, LeaveRecord("1003", "病假", date(2025, 8, 25), date(2025, 8, 29), LeaveStatus.APPROVED, record_id="L2",
                                  extensions=(LeaveExtension(date(2025, 9, 3), LeaveStatus.REJECTED),)))
    with factory() as s:
        result = compute_month(s, "2025-09", rulebook, calendar, as_of=date(2025, 9, 12))
        # the plain way: everyone classified from the lookback, every check-in loaded
        lookback, last = date(2025, 8, 1), date(2025, 9, 12)
        reference = [r for r in classify_month(["1001", "1002", "1003"], lookback, last, load_checkins(s, lookback, last),
                                               load_leaves(s, lookback, last), rulebook, calendar) if r.day >= date(2025, 9, 1)]
        assert [c.staff_id for c in load_checkins(s, date(2025, 9, 3), date(2025, 9, 3), staff_nos=["1002"])] == ["1002"] * 4
    assert result.records == reference
    by = {(r.staff_id, r.day): r for r in result.records}
    for day in (date(2025, 9, 1), date(2025, 9, 2)):
        half = by[("1001", day)].morning
        assert (half.status, half.absenteeism, half.leave_type) == (HalfDayStatus.ABSENTEEISM, AbsenteeismCause.LEAVE_OVERRUN, "事假")
    assert by[("1002", date(2025, 9, 1))].morning.absenteeism is AbsenteeismCause.NO_LEAVE_FILED
    assert by[("1003", date(2025, 9, 3))].afternoon.absenteeism is AbsenteeismCause.LEAVE_OVERRUN
