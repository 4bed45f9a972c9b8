"""Leave (四.(二)) through the approval chain, on a real database: who may ask, who decides in which
order (逐级: department head, then 督查考核科), 续假 through the same chain, rejection with a reason,
and attendance counting only approved leave (with the substitute filed at approval)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)
from attendance.classify import classify_and_store
from attendance.store import load_substitutes, save_leave
from models.attendance import AbsenteeismCause, ApprovalLevel, HalfDay, HalfDayStatus, LeaveRecord, LeaveSource, LeaveStatus
from models.attendance_db import HalfDayRow, LeaveRow
from models.db import AuditLog, Staff, Substitution, UserAccount, init_db, make_engine, make_session_factory
from models.rulebook import LeaveApprovalStep, LeaveRules
from models.workdays import WorkCalendar
from scoring import access
from scoring.access import AccessDenied, NotFound
from scoring.accounts import Actor, create_account
from scoring.store.site import load_site

SITE = Path(__file__).parent / "data" / "site" / "hall.toml"
ACCOUNTS = {  # user -> (role, 工号, approver level, department)
    "zhang": ("staff", "1001", None, None), "li": ("staff", "1002", None, None), "wang": ("staff", "2001", None, None),
    "head_scjg": ("manager", None, ApprovalLevel.DEPARTMENT_HEAD, "SCJG"),
    "head_rsj": ("manager", None, ApprovalLevel.DEPARTMENT_HEAD, "RSJ"),
    "centre": ("manager", None, ApprovalLevel.CENTRE, None), "mgr": ("manager", None, None, None),
    "insp": ("inspector", None, None, None), "admin": ("admin", None, None, None),
}
ASKED = datetime(2026, 3, 4, 9, 0)  # the leave below is asked for and decided before it begins
LEAVE = {"leave_type": "事假", "start": date(2026, 3, 5), "end": date(2026, 3, 6), "note": "家中有事"}


@pytest.fixture
def hall(db_url, rulebook):  # noqa: F811
    engine = init_db(make_engine(db_url))
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        load_site(s, SITE, rulebook)
        for user, (role, staff_no, _, _) in ACCOUNTS.items():
            create_account(s, user, "correct-horse-9", role, staff_no=staff_no, by="test", rounds=4)
        admin = _actor(s, "admin")
        for user, (_, _, level, dept) in ACCOUNTS.items():
            if level is not None:
                access.set_leave_approver(s, admin, user, level, dept)
    yield factory
    engine.dispose()


def _actor(s, user: str) -> Actor:
    acc = s.scalar(select(UserAccount).where(UserAccount.username == user))
    staff_no = s.scalar(select(Staff.staff_no).where(Staff.id == acc.staff_id)) if acc.staff_id else None
    return Actor(acc.id, acc.username, acc.role, acc.staff_id, staff_no)


def _ask(s, rulebook, user="zhang", **extra):
    fields = {**LEAVE, **extra}
    return access.request_leave(s, _actor(s, user), rulebook, now=ASKED, **fields).id


def _classify(s, rulebook, through=date(2026, 3, 9)):
    classify_and_store(s, "2026-03", rulebook, WorkCalendar.from_file(None), through=through)
    return {(h.day, h.half): h for h in s.scalars(select(HalfDayRow).join(Staff, Staff.id == HalfDayRow.staff_id)
                                                   .where(Staff.staff_no == "1001"))}


def test_the_chain_decides_in_order_and_keeps_who_decided_what_when(hall, rulebook):
    with hall() as s, s.begin():
        leave_id = _ask(s, rulebook, substitute_no="1002", substitute_window="A03")
        for user in ("centre", "head_rsj", "mgr", "li", "insp", "admin"):  # not the next step, another department, no approver
            with pytest.raises(AccessDenied):
                access.decide_leave(s, _actor(s, user), rulebook, leave_id, approve=True, now=ASKED)
        assert [i.leave_id for i in access.leave_items(s, _actor(s, "head_scjg"), rulebook, awaiting_me=True)] == [leave_id]
        assert access.leave_items(s, _actor(s, "centre"), rulebook, awaiting_me=True) == []
        access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, approve=True, now=datetime(2026, 3, 4, 10))
        assert s.get(LeaveRow, leave_id).status is LeaveStatus.PENDING  # one step of two
        [item] = access.leave_items(s, _actor(s, "centre"), rulebook, awaiting_me=True)
        assert (item.leave_id, item.awaiting, item.days) == (leave_id, "督查考核科", 2.0)
        assert s.scalar(select(Substitution.id).where(Substitution.reason.contains(f"请假 {leave_id}"))) is None
        access.decide_leave(s, _actor(s, "centre"), rulebook, leave_id, approve=True, now=datetime(2026, 3, 4, 15))
        assert s.get(LeaveRow, leave_id).status is LeaveStatus.APPROVED
        decisions = access.leave_decisions(s, _actor(s, "zhang"), rulebook, leave_id)
        assert [(d.step, d.decision, d.decided_by, d.decided_at) for d in decisions] == [
            ("部门负责人", "approved", "head_scjg", datetime(2026, 3, 4, 10)), ("督查考核科", "approved", "centre", datetime(2026, 3, 4, 15))]
        with pytest.raises(ValueError, match="已审批完毕"):
            access.decide_leave(s, _actor(s, "centre"), rulebook, leave_id, approve=True)
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.entity == "leave", AuditLog.entity_id == leave_id)))
        assert actions == ["leave.request", "leave.approve", "leave.approve"]
        # the proposed substitute was filed (备案) when the centre approved: before the substitution began
        [sub] = [x for x in load_substitutes(s, date(2026, 3, 5), date(2026, 3, 6), rulebook) if x.substitute_staff_id == "1002"]
        assert (sub.window_id, sub.start, sub.end, sub.replaces_staff_id, sub.filed) == ("A03", date(2026, 3, 5), date(2026, 3, 6), "1001", True)


def test_only_approved_leave_counts_in_the_stored_month(hall, rulebook):
    with hall() as s, s.begin():
        leave_id = _ask(s, rulebook)
        days = _classify(s, rulebook)
        assert (days[(date(2026, 3, 5), HalfDay.MORNING)].status, days[(date(2026, 3, 5), HalfDay.MORNING)].absenteeism) == (
            HalfDayStatus.ABSENTEEISM, AbsenteeismCause.LEAVE_NOT_APPROVED)  # asked, not approved: 旷工 (四.(二).4(2))
        access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, approve=True, now=ASKED)
        assert _classify(s, rulebook)[(date(2026, 3, 6), HalfDay.AFTERNOON)].status is HalfDayStatus.ABSENTEEISM  # half the chain
        access.decide_leave(s, _actor(s, "centre"), rulebook, leave_id, approve=True, now=ASKED)
        days = _classify(s, rulebook)
        assert {days[(d, h)].status for d in (date(2026, 3, 5), date(2026, 3, 6)) for h in HalfDay} == {HalfDayStatus.LEAVE}
        view = access.attendance_month(s, _actor(s, "zhang"), "2026-03")
        assert view.staff[0].leave_days == 2.0


def test_a_rejection_needs_its_reason_and_ends_the_request(hall, rulebook):
    with hall() as s, s.begin():
        leave_id = _ask(s, rulebook)
        with pytest.raises(ValueError, match="理由"):
            access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, approve=False, reason="  ")
        access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, approve=False, reason="窗口人手不足", now=ASKED)
        assert s.get(LeaveRow, leave_id).status is LeaveStatus.REJECTED
        with pytest.raises(ValueError):
            access.decide_leave(s, _actor(s, "centre"), rulebook, leave_id, approve=True)
        [item] = access.leave_items(s, _actor(s, "zhang"), rulebook)
        assert (item.status, item.awaiting) == ("rejected", None)
        [d] = access.leave_decisions(s, _actor(s, "zhang"), rulebook, leave_id)
        assert (d.decision, d.reason, d.decided_by) == ("rejected", "窗口人手不足", "head_scjg")
        assert _classify(s, rulebook)[(date(2026, 3, 5), HalfDay.MORNING)].absenteeism is AbsenteeismCause.LEAVE_NOT_APPROVED


def test_an_extension_climbs_the_same_chain(hall, rulebook):
    with hall() as s, s.begin():
        leave_id = _ask(s, rulebook, end=date(2026, 3, 5), substitute_no="1002")
        zhang = _actor(s, "zhang")
        with pytest.raises(ValueError, match="已批准"):
            access.request_extension(s, zhang, leave_id, new_end=date(2026, 3, 6), note="病情加重")
        for user in ("head_scjg", "centre"):
            access.decide_leave(s, _actor(s, user), rulebook, leave_id, approve=True, now=ASKED)
        with pytest.raises(ValueError, match="晚于"):
            access.request_extension(s, zhang, leave_id, new_end=date(2026, 3, 5), note="病情加重")
        with pytest.raises(NotFound):
            access.request_extension(s, _actor(s, "li"), leave_id, new_end=date(2026, 3, 6), note="x")
        ext_id = access.request_extension(s, zhang, leave_id, new_end=date(2026, 3, 6), note="家中仍有事", now=datetime(2026, 3, 5, 16)).id
        with pytest.raises(ValueError, match="审批中"):
            access.request_extension(s, zhang, leave_id, new_end=date(2026, 3, 9), note="again")
        assert _classify(s, rulebook)[(date(2026, 3, 6), HalfDay.MORNING)].absenteeism is AbsenteeismCause.LEAVE_OVERRUN
        with pytest.raises(AccessDenied):  # the centre does not go before the department head
            access.decide_leave(s, _actor(s, "centre"), rulebook, leave_id, extension_id=ext_id, approve=True)
        access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, extension_id=ext_id, approve=True, now=datetime(2026, 3, 5, 17))
        [item] = [i for i in access.leave_items(s, _actor(s, "centre"), rulebook, awaiting_me=True)]
        assert (item.extension_id, item.end, item.days, item.note) == (ext_id, date(2026, 3, 6), 2.0, "家中仍有事")
        access.decide_leave(s, _actor(s, "centre"), rulebook, leave_id, extension_id=ext_id, approve=True, now=datetime(2026, 3, 5, 17, 30))
        assert _classify(s, rulebook)[(date(2026, 3, 6), HalfDay.MORNING)].status is HalfDayStatus.LEAVE
        decisions = access.leave_decisions(s, zhang, rulebook, leave_id)
        assert [(d.extension_id, d.step) for d in decisions] == [(None, "部门负责人"), (None, "督查考核科"), (ext_id, "部门负责人"), (ext_id, "督查考核科")]
        # the substitute's filing now covers the extension too (first filing time kept)
        [sub] = s.scalars(select(Substitution).where(Substitution.reason.contains(f"请假 {leave_id}"))).all()
        assert (sub.ends_at.date(), sub.filed_at) == (date(2026, 3, 6), ASKED)


def test_staff_see_and_ask_only_for_themselves(hall, rulebook):
    with hall() as s, s.begin():
        zhang_leave = _ask(s, rulebook)
        wang_leave = _ask(s, rulebook, user="wang")
        li = _actor(s, "li")
        assert access.leave_items(s, li, rulebook) == []
        with pytest.raises(AccessDenied):
            access.leave_items(s, li, rulebook, staff_id=_actor(s, "zhang").staff_id)
        with pytest.raises(AccessDenied):
            access.leave_decisions(s, li, rulebook, zhang_leave)
        with pytest.raises(AccessDenied):
            access.leave_items(s, _actor(s, "insp"), rulebook)
        with pytest.raises(AccessDenied):  # a manager does not ask for leave on someone's behalf
            access.request_leave(s, _actor(s, "mgr"), rulebook, **LEAVE)
        assert {i.leave_id for i in access.leave_items(s, _actor(s, "mgr"), rulebook)} == {zhang_leave, wang_leave}
        # each department head is shown only their department's requests
        assert [i.staff_no for i in access.leave_items(s, _actor(s, "head_rsj"), rulebook, awaiting_me=True)] == ["2001"]
        with pytest.raises(ValueError, match="替岗"):
            _ask(s, rulebook, substitute_no="1001")  # oneself
        with pytest.raises(ValueError, match="窗口"):
            _ask(s, rulebook, substitute_no="1002", substitute_window="B01")  # not a window of the applicant's
        with pytest.raises(ValueError, match="假别"):
            _ask(s, rulebook, leave_type="调休")
        with pytest.raises(ValueError, match="重叠"):
            _ask(s, rulebook, start=date(2026, 3, 6), end=date(2026, 3, 9))
        assert [c.staff_no for c in access.substitute_candidates(s, _actor(s, "zhang"))] == ["1002"]


def test_leave_from_a_file_is_taken_as_decided(hall, rulebook):
    with hall() as s, s.begin():
        row = save_leave(s, LeaveRecord("1001", "病假", date(2026, 3, 5), date(2026, 3, 5), LeaveStatus.APPROVED, record_id="HR-7"))
        assert row.source is LeaveSource.FILE
        with pytest.raises(ValueError, match="请假文件"):
            access.decide_leave(s, _actor(s, "head_scjg"), rulebook, row.id, approve=False, reason="x")
        [item] = access.leave_items(s, _actor(s, "zhang"), rulebook)
        assert (item.source, item.status, item.awaiting) == ("file", "approved", None)
        assert _classify(s, rulebook)[(date(2026, 3, 5), HalfDay.MORNING)].status is HalfDayStatus.LEAVE


def test_the_rulebook_sets_which_steps_a_length_of_leave_needs(hall, rulebook):
    steps = [LeaveApprovalStep(level=ApprovalLevel.DEPARTMENT_HEAD, label="部门负责人"),
             LeaveApprovalStep(level=ApprovalLevel.CENTRE, label="督查考核科", from_days=3)]
    book = rulebook.model_copy(update={"leave": LeaveRules(approval_steps=steps)})
    with hall() as s, s.begin():
        short = _ask(s, book)  # 2 days: the department head alone
        access.decide_leave(s, _actor(s, "head_scjg"), book, short, approve=True, now=ASKED)
        assert s.get(LeaveRow, short).status is LeaveStatus.APPROVED
        long = _ask(s, book, start=date(2026, 3, 9), end=date(2026, 3, 13))
        access.decide_leave(s, _actor(s, "head_scjg"), book, long, approve=True, now=ASKED)
        assert s.get(LeaveRow, long).status is LeaveStatus.PENDING
    with pytest.raises(ValueError, match="lowest first"):
        LeaveRules(approval_steps=list(reversed(steps)))


def test_only_an_admin_designates_approvers(hall):
    with hall() as s, s.begin():
        for user in ("mgr", "centre", "zhang"):
            with pytest.raises(AccessDenied):
                access.set_leave_approver(s, _actor(s, user), "mgr", ApprovalLevel.CENTRE)
        admin = _actor(s, "admin")
        with pytest.raises(ValueError):
            access.set_leave_approver(s, admin, "zhang", ApprovalLevel.CENTRE)  # a staff account
        with pytest.raises(ValueError):
            access.set_leave_approver(s, admin, "mgr", ApprovalLevel.DEPARTMENT_HEAD, "NOPE")
        access.set_leave_approver(s, admin, "mgr", ApprovalLevel.CENTRE)
        assert access.approver_level(s, _actor(s, "mgr")) is ApprovalLevel.CENTRE
        access.set_leave_approver(s, admin, "mgr", None)
        assert access.approver_level(s, _actor(s, "mgr")) is None


def test_a_leave_decided_after_the_month_was_stored_is_counted_by_the_next_daily_run(hall, rulebook):
    from attendance.classify import stale_months

    with hall() as s, s.begin():
        leave_id = _ask(s, rulebook)
        _classify(s, rulebook)
        assert stale_months(s) == []
        access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, approve=True)  # now
        assert stale_months(s) == ["2026-03"]
        assert access.attendance_month(s, _actor(s, "zhang"), "2026-03").leave_decisions_since == 1
        _classify(s, rulebook)
        assert stale_months(s) == [] and access.attendance_month(s, _actor(s, "zhang"), "2026-03").leave_decisions_since == 0


def test_cli_designates_approvers_and_the_daily_run_counts_a_late_decision(hall, db_url, rulebook, tmp_path, monkeypatch):  # noqa: F811
    from typer.testing import CliRunner

    from models.attendance_db import LeaveApproverRow
    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    res = runner.invoke(app, ["attendance", "approver-set", "mgr", "--level", "department_head", "--department", "RSJ", "--db", db_url])
    assert res.exit_code == 0 and "decides department_head of RSJ" in res.output, res.output
    res = runner.invoke(app, ["attendance", "approver-set", "zhang", "--level", "centre", "--db", db_url])
    assert res.exit_code == 2 and "不是管理人员账户" in res.output, res.output
    with hall() as s, s.begin():
        mgr = _actor(s, "mgr")
        assert s.scalar(select(LeaveApproverRow.level).where(LeaveApproverRow.user_id == mgr.user_id)) is ApprovalLevel.DEPARTMENT_HEAD
        leave_id = _ask(s, rulebook, start=date(2026, 2, 26), end=date(2026, 2, 27))  # last month, decided late
        _classify(s, rulebook, through=date(2026, 3, 9))
        classify_and_store(s, "2026-02", rulebook, WorkCalendar.from_file(None), through=date(2026, 2, 28))
        for user in ("head_scjg", "centre"):
            access.decide_leave(s, _actor(s, user), rulebook, leave_id, approve=True)
    res = runner.invoke(app, ["attendance", "classify", "--day", "2026-03-09", "--db", db_url])
    assert res.exit_code == 0 and "2026-02: leave decided since it was classified" in res.output, res.output
    with hall() as s:
        feb = {(h.day, h.half): h.status for h in s.scalars(select(HalfDayRow).join(Staff, Staff.id == HalfDayRow.staff_id)
                                                            .where(Staff.staff_no == "1001", HalfDayRow.day >= date(2026, 2, 26)))}
        assert feb[(date(2026, 2, 26), HalfDay.MORNING)] is HalfDayStatus.LEAVE


def test_a_substitute_filed_by_a_manager_counts_as_filed_only_before_it_began(hall, rulebook):
    from attendance.store import compute_month, save_checkin
    from models.attendance import CheckIn, CoverageIssue

    with hall() as s, s.begin():
        for day in (date(2026, 3, 5), date(2026, 3, 6)):
            save_leave(s, LeaveRecord("1001", "事假", day, day, LeaveStatus.APPROVED, record_id=f"HR-{day}"))
            for hh, mm in ((8, 20), (12, 2), (13, 20), (17, 35)):
                save_checkin(s, CheckIn("1002", datetime.combine(day, datetime.min.time()).replace(hour=hh, minute=mm)), window_minutes=5)
        with pytest.raises(AccessDenied):
            access.file_substitute_now(s, _actor(s, "zhang"), window="A03", substitute_no="1002",
                                       starts_at=datetime(2026, 3, 5, 8, 30), ends_at=datetime(2026, 3, 5, 17, 30))
        with pytest.raises(ValueError, match="替岗备案无效"):
            access.file_substitute_now(s, _actor(s, "mgr"), window="Z99", substitute_no="1002",
                                       starts_at=datetime(2026, 3, 5, 8, 30), ends_at=datetime(2026, 3, 5, 17, 30))
        for day, filed in ((date(2026, 3, 5), datetime(2026, 3, 4, 16)), (date(2026, 3, 6), datetime(2026, 3, 6, 9))):
            access.file_substitute_now(s, _actor(s, "mgr"), window="A03", substitute_no="1002", replaces_no="1001",
                                       starts_at=datetime.combine(day, datetime.min.time()).replace(hour=8, minute=30),
                                       ends_at=datetime.combine(day, datetime.min.time()).replace(hour=17, minute=30), now=filed)
        rows = {r.starts_at.date(): r for r in access.substitutions(s, _actor(s, "insp"))}
        assert rows[date(2026, 3, 5)].filed_before and not rows[date(2026, 3, 6)].filed_before
        result = compute_month(s, "2026-03", rulebook, WorkCalendar.from_file(None), as_of=date(2026, 3, 6))
        flags = {(f.day, f.issue) for f in result.coverage if f.window_id == "A03" and f.day >= date(2026, 3, 5)}
        assert (date(2026, 3, 6), CoverageIssue.SUBSTITUTE_NOT_FILED) in flags
        assert not any(day == date(2026, 3, 5) for day, _ in flags)
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "substitute.file", AuditLog.actor == "mgr")) is not None


def test_personal_numbers_in_reasons_are_masked_for_roles_that_do_not_need_them(hall, rulebook):
    phone = "13812345678"
    with hall() as s, s.begin():
        leave_id = _ask(s, rulebook, note=f"陪家人看病，联系电话 {phone}")
        access.decide_leave(s, _actor(s, "head_scjg"), rulebook, leave_id, approve=False, reason=f"请先电话 {phone} 说明", now=ASKED)
        for user in ("zhang", "mgr"):
            [item] = access.leave_items(s, _actor(s, user), rulebook)
            [decision] = access.leave_decisions(s, _actor(s, user), rulebook, leave_id)
            assert phone not in item.note and phone not in decision.reason and "陪家人看病" in item.note
