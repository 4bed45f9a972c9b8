"""The leave, substitute and attendance-appeal pages through Streamlit's AppTest, on the test hall.

A staff member asks for leave with a substitute on 我的请假; the department head, then 督查考核科,
approve it on 请假审批 (in that order only); the same staff member appeals a late half-day on 我的考勤
and a manager grants it on 考勤申诉; a manager files a substitute on 替岗备案. Every step is checked
in the database the pages write to.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
import streamlit as st
from sqlalchemy import select

from _dashboard_support import PASSWORD, build_hall, set_env, staff_id
from models.attendance import ApprovalLevel, HalfDay, HalfDayStatus, LeaveSource, LeaveStatus
from models.attendance_db import HalfDayRow, LeaveRow
from models.db import Substitution, make_engine, make_session_factory
from models.rulebook import load_rulebook
from scoring import access
from scoring.accounts import create_account
from test_dashboard_pages import login, page, text_of
from test_leave_chain import _actor


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    hall = build_hall(tmp_path_factory.mktemp("leave-hall"))
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s, s.begin():
        for user in ("head", "centre"):
            create_account(s, user, PASSWORD, "manager", by="test", rounds=4)
        admin = _actor(s, "admin")
        access.set_leave_approver(s, admin, "head", ApprovalLevel.DEPARTMENT_HEAD, "SCJG")
        access.set_leave_approver(s, admin, "centre", ApprovalLevel.CENTRE)
    return hall


@pytest.fixture
def env(hall, monkeypatch):
    set_env(hall, monkeypatch)
    return make_session_factory(make_engine(hall.url))


def _submit(at, key: str):
    next(b for b in at.button if b.proto.form_id == key).click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_staff_ask_and_the_chain_approves_in_order(env):
    at = page(login("zhang"), "my_leave")
    at.date_input(key="lv_start").set_value(date(2026, 3, 5))
    at.date_input(key="lv_end").set_value(date(2026, 3, 6))
    at.text_area(key="lv_note").input("家中有事")
    at.selectbox(key="lv_sub").select("1002")
    _submit(at, "leave_form")
    assert not at.error, [e.value for e in at.error]
    with env() as s:
        leave = s.scalar(select(LeaveRow).where(LeaveRow.source == LeaveSource.DASHBOARD))
        assert (leave.status, leave.start, leave.end, leave.substitute.staff_no, leave.requested_by) == (
            LeaveStatus.PENDING, date(2026, 3, 5), date(2026, 3, 6), "1002", "zhang")
    assert "部门负责人" in text_of(page(login("zhang"), "my_leave"))  # where it waits

    at = page(login("centre"), "leave_approval")
    assert "0 待我审批（督查考核科）" in text_of(at) and not at.radio  # the department head decides first
    at = page(login("head"), "leave_approval")
    assert "1 待我审批（部门负责人）" in text_of(at)
    _submit(at, "decide_form")
    at = page(login("centre"), "leave_approval")
    assert "1 待我审批（督查考核科）" in text_of(at)
    at.text_area(key="la_reason").input("同意")
    _submit(at, "decide_form")
    with env() as s:
        leave = s.get(LeaveRow, leave.id)
        assert leave.status is LeaveStatus.APPROVED
        sub = s.scalar(select(Substitution).where(Substitution.reason.contains(f"请假 {leave.id}")))
        assert sub is not None and sub.filed_at is not None
    shown = text_of(page(login("zhang"), "my_leave"))
    assert "已批准" in shown and "head" in shown and "centre" in shown  # who approved

    # 续假 through the same chain
    at = page(login("zhang"), "my_leave")
    at.date_input(key="ext_end").set_value(date(2026, 3, 9))
    at.text_area(key="ext_note").input("家中仍有事")
    _submit(at, "extend_form")
    assert not at.error, [e.value for e in at.error]
    with env() as s:
        [ext] = s.get(LeaveRow, leave.id).extensions
        assert (ext.new_end, ext.status, ext.note) == (date(2026, 3, 9), LeaveStatus.PENDING, "家中仍有事")
    assert "0 待我审批（督查考核科）" in text_of(page(login("centre"), "leave_approval"))
    at = page(login("head"), "leave_approval")
    assert "1 待我审批（部门负责人）" in text_of(at) and "（续假）" in at.selectbox(key="la_pick").options[0]


def test_a_rejection_without_its_reason_is_refused_on_the_page(env):
    with env() as s, s.begin():
        leave_id = access.request_leave(s, _actor(s, "zhang"), load_rulebook(), leave_type="病假", start=date(2026, 3, 10),
                                        end=date(2026, 3, 10), note="发烧").id
    st.cache_data.clear()  # written past the dashboard (whose writes clear its cached reads)
    at = page(login("head"), "leave_approval")
    at.selectbox(key="la_pick").select((leave_id, None))
    at.radio(key="la_outcome").set_value(False)
    _submit(at, "decide_form")
    assert at.error and "理由" in at.error[0].value
    with env() as s:
        assert s.get(LeaveRow, leave_id).status is LeaveStatus.PENDING


def test_staff_appeal_a_late_half_day_and_a_manager_grants_it(env):
    at = page(login("zhang"), "my_attendance")
    at.text_area(key="att_appeal_reason").input("考勤机故障，已到岗")
    _submit(at, "att_appeal_form")
    assert "待裁定" in text_of(page(login("zhang"), "my_attendance"))
    at = page(login("mgr"), "attendance_appeals")
    assert "1 待裁定" in text_of(at)
    at.text_area(key="aa_ruling").input("监控核实")
    _submit(at, "aa_form")
    with env() as s:
        row = s.scalar(select(HalfDayRow).where(HalfDayRow.staff_id == staff_id(s, "1001"), HalfDayRow.day == date(2026, 3, 2),
                                                HalfDayRow.half == HalfDay.MORNING))
        assert row.status is HalfDayStatus.ON_TIME
    assert "0 / 0 迟到/早退" in text_of(page(login("zhang"), "my_attendance"))


def test_a_manager_files_a_substitute_now(env):
    before = datetime.now().replace(microsecond=0)
    at = page(login("mgr"), "substitutes")
    at.selectbox(key="sb_window").select("B02")
    at.selectbox(key="sb_staff").select("2001")
    at.selectbox(key="sb_for").select("2002")
    at.date_input(key="sb_start_day").set_value(date(2026, 3, 20))
    at.date_input(key="sb_end_day").set_value(date(2026, 3, 20))
    at.time_input(key="sb_end_time").set_value(time(12, 0))
    _submit(at, "substitute_form")
    assert not at.error, [e.value for e in at.error]
    with env() as s:
        sub = s.scalar(select(Substitution).where(Substitution.starts_at == datetime(2026, 3, 20, 8, 30)))
        assert sub.ends_at == datetime(2026, 3, 20, 12) and sub.filed_at >= before
    at = page(login("admin"), "substitutes")  # an admin reads, files nothing
    assert "2026-03-20" in text_of(at) and not any(b.proto.form_id == "substitute_form" for b in at.button)
