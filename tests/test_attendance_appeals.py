"""考勤申诉: a staff member contests a classified half-day like a flag, a manager decides, and the
decision changes the stored classification (at once, and again whenever the month is classified)."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date, datetime

import pytest
from sqlalchemy import select

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)
from attendance.classify import classify_and_store
from attendance.store import save_checkin
from models.attendance import AttendanceAppealStatus, CheckIn, CheckMethod, HalfDay, HalfDayStatus
from models.attendance_db import AttendanceAppealRow, HalfDayRow
from models.db import AuditLog, init_db, make_engine, make_session_factory
from models.workdays import WorkCalendar
from scoring import access
from scoring.access import AccessDenied, NotFound
from scoring.accounts import create_account
from test_leave_chain import SITE, _actor
from scoring.store.site import load_site

THROUGH = date(2026, 3, 3)
CHECKS = {  # 张敏 12 minutes late on the morning of the 2nd; 李强 on time on the 3rd (substituting)
    "1001": ["2026-03-02T08:42", "2026-03-02T12:01", "2026-03-02T13:25", "2026-03-02T17:35"],
    "1002": ["2026-03-03T08:25", "2026-03-03T12:02", "2026-03-03T13:28", "2026-03-03T17:31"],
}
LATE = (date(2026, 3, 2), HalfDay.MORNING)


@pytest.fixture
def hall(db_url, rulebook):  # noqa: F811
    engine = init_db(make_engine(db_url))
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        load_site(s, SITE, rulebook)
        for user, role, staff_no in (("zhang", "staff", "1001"), ("li", "staff", "1002"), ("mgr", "manager", None),
                                     ("insp", "inspector", None), ("admin", "admin", None)):
            create_account(s, user, "correct-horse-9", role, staff_no=staff_no, by="test", rounds=4)
        for staff_no, times in CHECKS.items():
            for at in times:
                save_checkin(s, CheckIn(staff_no, datetime.fromisoformat(at), CheckMethod.CARD, "T1"), window_minutes=5)
        _classify(s, rulebook)
    yield factory
    engine.dispose()


def _classify(s, rulebook) -> None:
    classify_and_store(s, "2026-03", rulebook, WorkCalendar.from_file(None), through=THROUGH)


def _lines(s, user="mgr"):
    view = access.attendance_month(s, _actor(s, user), "2026-03")
    return ({x.staff_no: astuple(x) for x in view.staff}, {w.window: astuple(w) for w in view.windows})


def test_a_granted_appeal_changes_the_stored_month_now_and_after_reclassifying(hall, rulebook):
    with hall() as s, s.begin():
        zhang = _actor(s, "zhang")
        before = access.attendance_month(s, zhang, "2026-03").staff[0]
        assert (before.late_count, before.late_minutes) == (1, 12)
        appeal = access.file_attendance_appeal(s, zhang, *LATE, "考勤机故障，8:25 已到岗（有监控）", now=datetime(2026, 3, 4, 9))
        with pytest.raises(ValueError, match="已申诉"):
            access.file_attendance_appeal(s, zhang, *LATE, "again")
        for user in ("zhang", "insp", "admin"):  # only a manager decides
            with pytest.raises(AccessDenied):
                access.decide_attendance_appeal(s, _actor(s, user), appeal.id, grant=True, ruling="x")
        [pending] = access.attendance_appeals(s, _actor(s, "mgr"), pending_only=True)
        assert (pending.staff_no, pending.day, pending.half, pending.classified_as) == ("1001", *LATE[:1], "morning", "late")
        access.decide_attendance_appeal(s, _actor(s, "mgr"), appeal.id, grant=True, ruling="监控核实到岗时间", now=datetime(2026, 3, 4, 11))
        with pytest.raises(ValueError, match="已裁定"):
            access.decide_attendance_appeal(s, _actor(s, "mgr"), appeal.id, grant=False, ruling="x")
        after = access.attendance_month(s, zhang, "2026-03")
        line = after.staff[0]
        assert (line.late_count, line.late_minutes, line.checks_on_time) == (0, 0, before.checks_on_time + 1)
        assert LATE not in {(d.day, HalfDay(d.half)) for d in after.days}  # no longer in the 明细
        corrected = _lines(s)
        _classify(s, rulebook)  # the next classification (the daily run) keeps the decision
        assert _lines(s) == corrected
        stored = s.scalar(select(HalfDayRow).where(HalfDayRow.day == LATE[0], HalfDayRow.half == LATE[1], HalfDayRow.staff_id == zhang.staff_id))
        assert stored.status is HalfDayStatus.ON_TIME
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "attendance_appeal.decide")) is not None


def test_a_rejected_appeal_leaves_the_classification(hall, rulebook):
    with hall() as s, s.begin():
        zhang = _actor(s, "zhang")
        appeal = access.file_attendance_appeal(s, zhang, *LATE, "路上堵车")
        before = _lines(s)
        with pytest.raises(ValueError, match="理由"):
            access.decide_attendance_appeal(s, _actor(s, "mgr"), appeal.id, grant=False, ruling=" ")
        access.decide_attendance_appeal(s, _actor(s, "mgr"), appeal.id, grant=False, ruling="堵车不属正当理由")
        assert _lines(s) == before
        _classify(s, rulebook)
        assert _lines(s) == before
        [mine] = access.attendance_appeals(s, zhang)
        assert (mine.status, mine.ruling, mine.ruled_by) == ("rejected", "堵车不属正当理由", "mgr")


def test_staff_appeal_and_see_only_their_own(hall):
    with hall() as s, s.begin():
        zhang, li = _actor(s, "zhang"), _actor(s, "li")
        with pytest.raises(ValueError, match="无需申诉"):  # an on-time half-day
            access.file_attendance_appeal(s, zhang, date(2026, 3, 2), HalfDay.AFTERNOON, "x")
        with pytest.raises(NotFound):  # 李强 has no stored half-day on the 2nd (he only substituted on the 3rd)
            access.file_attendance_appeal(s, li, *LATE, "想替张敏申诉")
        with pytest.raises(AccessDenied):
            access.file_attendance_appeal(s, _actor(s, "mgr"), *LATE, "x")
        access.file_attendance_appeal(s, zhang, *LATE, "考勤机故障")
        assert access.attendance_appeals(s, li) == []
        assert [a.staff_no for a in access.attendance_appeals(s, _actor(s, "insp"))] == ["1001"]
        assert s.scalar(select(AttendanceAppealRow.status)) is AttendanceAppealStatus.PENDING
