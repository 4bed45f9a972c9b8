"""Management analytics (scoring.access.analytics) grouped by department, on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from _store_support import any_factory, db_url, pg_url, rulebook, sqlite_url, store_fixture  # noqa: F401
from models.db import Department, RosterEntry, Staff, UserRole, Window
from scoring import access
from scoring.accounts import Actor

START = datetime(2026, 3, 2, 9, 0, 0)
MANAGER = Actor(user_id=0, username="mgr", role=UserRole.MANAGER)  # a read: no account row needed


def _two_departments(s) -> dict[str, Window]:
    # Two departments created after two unused ones, so that no department id equals a window id.
    s.add_all([Department(code="X1", name="空部门一"), Department(code="X2", name="空部门二")])
    scjg, shbz = Department(code="SCJG", name="市场监管"), Department(code="SHBZ", name="社会保障")
    a03 = Window(code="A03", name="企业开办", department=scjg)
    b01 = Window(code="B01", name="社保", department=shbz)
    zhang = Staff(staff_no="1001", name="张敏", department=scjg, windows=[a03])
    wang = Staff(staff_no="1003", name="王芳", department=shbz, windows=[b01])
    s.add_all([scjg, shbz, a03, b01, zhang, wang])
    s.flush()
    day = START.replace(hour=0)
    s.add_all([
        RosterEntry(window_id=a03.id, staff_id=zhang.id, starts_at=day.replace(hour=8, minute=30), ends_at=day.replace(hour=12)),
        RosterEntry(window_id=b01.id, staff_id=wang.id, starts_at=day.replace(hour=8, minute=30), ends_at=day.replace(hour=12)),
    ])
    s.flush()
    assert {scjg.id, shbz.id}.isdisjoint({a03.id, b01.id})
    return {"SCJG": a03, "SHBZ": b01}


def test_compliance_by_department_counts_each_departments_windows(any_factory, rulebook):
    with any_factory() as s, s.begin():
        windows = _two_departments(s)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=windows["SCJG"], start=START)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=windows["SHBZ"], start=START.replace(hour=10))
    with any_factory() as s:
        by_window = {r.key: r for r in access.compliance(s, MANAGER, by="window")}
        by_department = {r.key: r for r in access.compliance(s, MANAGER, by="department")}
        assert set(by_department) == {"SCJG", "SHBZ"}
        for dept, window in windows.items():
            # one window per department: the department's figures are its window's
            expected = by_window[window.code]
            got = by_department[dept]
            assert (got.interactions, got.greeting_rate, got.farewell_rate, got.both_rate, got.forbidden) == (
                expected.interactions, expected.greeting_rate, expected.farewell_rate, expected.both_rate, expected.forbidden)
            assert got.forbidden == 1 and got.interactions > 0
        assert by_department["SCJG"].name == "市场监管"
