"""The role-scoped query layer (scoring.access) and local accounts, on SQLite and PostgreSQL.

Role limits hold in the data layer: whatever a caller asks for, a staff member gets their own
data only; decisions, appeals and exports are for the roles named in the issue and are audited.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from _dashboard_support import PASSWORD, PHONE, populate, staff_id
from _store_support import any_factory, db_url, pg_url, sqlite_url  # noqa: F401
from models.db import AuditLog, Flag, FlagKind, FlagStatus, Review, ReviewDecision, UserAccount, UserRole
from models.rulebook import load_rulebook
from scoring import access
from scoring.accounts import (
    AccountError,
    LoginError,
    SessionOptions,
    authenticate,
    create_account,
    reload_actor,
    set_active,
    set_password,
    start_session,
)
from scoring.reports import ReportOptions, rollup

RB = load_rulebook()


@pytest.fixture
def hall(any_factory, tmp_path):
    populate(any_factory, tmp_path / "archive")
    return any_factory, tmp_path / "archive"


def _actors(s):
    return {u: authenticate(s, u, PASSWORD) for u in ("insp", "zhang", "li", "mgr", "admin")}


def _forbidden_flag(s, staff_no):
    return s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, staff_no)))


def test_staff_get_only_their_own_data_whatever_they_ask(hall):
    factory, _ = hall
    with factory() as s:
        a = _actors(s)
        zhang, li = a["zhang"], staff_id(s, "1002")
        _, rows = access.flag_queue(s, zhang, access.FlagFilter(statuses=()))
        assert rows and {r.staff_no for r in rows} == {"1001"}
        for call in (
            lambda: access.flag_queue(s, zhang, access.FlagFilter(staff_ids=(li,))),
            lambda: access.score_series(s, zhang, staff_id=li),
            lambda: access.staff_ratings(s, zhang, staff_id=li),
            lambda: access.staff_flagged_utterances(s, zhang, staff_id=li),
            lambda: access.courtesy_used(s, zhang, staff_id=li),
            lambda: access.attendance_month(s, zhang, "2026-03", staff_id=li),
        ):
            with pytest.raises(access.AccessDenied, match="only their own"):
                call()
        with pytest.raises(access.NotFound):
            access.flag_detail(s, zhang, _forbidden_flag(s, "1002").id)
        assert [c.staff_no for c in access.staff_choices(s, zhang)] == ["1001"]
        att = access.attendance_month(s, zhang, "2026-03")
        assert [r.staff_no for r in att.staff] == ["1001"] and att.windows == [] and att.coverage == []
        assert {d.staff_no for d in att.days} == {"1001"}
        assert access.appeals(s, zhang) == []


ROLE_LIMITS = [
    ("zhang", lambda s, a: access.satisfaction(s, a, RB)),
    ("zhang", lambda s, a: access.compliance(s, a)),
    ("zhang", lambda s, a: access.monthly_circular(s, a, "2026-03", RB)),
    ("zhang", lambda s, a: access.accounts(s, a)),
    ("zhang", lambda s, a: access.decide_flag(s, a, 1, "confirm")),
    ("zhang", lambda s, a: access.follow_up_cases(s, a)),
    ("mgr", lambda s, a: access.decide_flag(s, a, 1, "confirm")),
    ("mgr", lambda s, a: access.rule_on_appeal(s, a, 1, uphold_flag=True, ruling="x")),
    ("mgr", lambda s, a: access.accounts(s, a)),
    ("mgr", lambda s, a: access.file_appeal(s, a, 1, "x")),
    ("insp", lambda s, a: access.monthly_circular(s, a, "2026-03", RB)),
    ("insp", lambda s, a: access.satisfaction(s, a, RB)),
    ("insp", lambda s, a: access.admin_create_account(s, a, "x", "long-enough-1", "admin")),
    ("admin", lambda s, a: access.decide_flag(s, a, 1, "confirm")),
]


def test_each_role_is_limited_in_the_data_layer(hall):
    factory, _ = hall
    with factory() as s:
        actors = _actors(s)
        for n, (who, call) in enumerate(ROLE_LIMITS):
            with pytest.raises(access.AccessDenied):
                call(s, actors[who])
                pytest.fail(f"case {n}: {who} was allowed")


def test_dismissing_restores_the_score_and_feeds_labelled_examples(hall):
    factory, _ = hall
    start, end = date(2026, 3, 1), date(2026, 4, 1)
    with factory() as s, s.begin():
        a = _actors(s)
        before = {r["key"]: r for r in rollup(s, ReportOptions.for_rulebook("staff", "month", start, end, RB)).as_dicts()}
        zhang_flag, li_flag, wang_flag = (_forbidden_flag(s, no) for no in ("1001", "1002", "2001"))
        with pytest.raises(ValueError, match="reason"):
            access.decide_flag(s, a["insp"], zhang_flag.id, "dismiss")
        access.decide_flag(s, a["insp"], zhang_flag.id, "dismiss", reason="说的是流程，不是推诿")
        access.decide_flag(s, a["insp"], li_flag.id, "confirm", reason="录音核实")
        access.decide_flag(s, a["insp"], wang_flag.id, "change_rule", rule_id="forbidden.impatient", reason="其实是不耐烦", rulebook=RB)
        with pytest.raises(ValueError, match="unknown rule"):
            access.decide_flag(s, a["insp"], wang_flag.id, "change_rule", rule_id="forbidden.nope", rulebook=RB)
    with factory() as s:
        after = {r["key"]: r for r in rollup(s, ReportOptions.for_rulebook("staff", "month", start, end, RB)).as_dicts()}
        # the dismissed phrase no longer counts and its 20 points come back (6 interactions)
        assert after["1001"]["forbidden_hits"] == before["1001"]["forbidden_hits"] - 1
        assert after["1001"]["avg_score"] == pytest.approx(before["1001"]["avg_score"] + 20 / 6, abs=0.06)
        assert {k: v for k, v in after["1002"].items() if k != "flags_open"} == {k: v for k, v in before["1002"].items() if k != "flags_open"}
        assert s.get(Flag, zhang_flag.id).status is FlagStatus.DISMISSED
        changed = s.get(Flag, wang_flag.id)
        assert changed.status is FlagStatus.CONFIRMED and changed.evidence["rule_id"] == "forbidden.impatient"
        assert changed.evidence["original_rule_id"] == "forbidden.already_told"
        with pytest.raises(access.AccessDenied):
            access.labelled_examples(s, a["zhang"])
        examples = sorted(access.labelled_examples(s, a["insp"]), key=lambda e: e[1])
        text = "刚才和你说过了，怎么还问？"
        assert examples == sorted([(text, "none"), (text, "forbidden.already_told"), (text, "forbidden.impatient")], key=lambda e: e[1])
        decided = s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "review.decide", AuditLog.actor == "insp"))
        assert decided == 3


def test_changing_to_a_courtesy_rule_dismisses_the_flag(hall):
    factory, _ = hall
    with factory() as s, s.begin():
        a = _actors(s)
        flag = _forbidden_flag(s, "1001")
        review = access.decide_flag(s, a["insp"], flag.id, "change_rule", rule_id="courtesy.please_wait", rulebook=RB)
        assert review.decision is ReviewDecision.DISMISS and review.rule_id == "courtesy.please_wait"
        assert flag.status is FlagStatus.DISMISSED
        assert access.labelled_examples(s, a["admin"]) == [("刚才和你说过了，怎么还问？", "courtesy.please_wait")]


def test_appeal_is_ruled_once_and_the_ruling_is_final(hall):
    factory, _ = hall
    with factory() as s, s.begin():
        a = _actors(s)
        flag = _forbidden_flag(s, "1001")
        with pytest.raises(access.NotFound):
            access.file_appeal(s, a["li"], flag.id, "不是我")  # not li's flag
        with pytest.raises(ValueError, match="reason"):
            access.file_appeal(s, a["zhang"], flag.id, "  ")
        appeal = access.file_appeal(s, a["zhang"], flag.id, "群众反复询问，我在解释")
        with pytest.raises(ValueError, match="appealed already"):
            access.file_appeal(s, a["zhang"], flag.id, "再次申诉")
        listed = access.appeals(s, a["insp"], pending_only=True)
        assert [(r.flag_id, r.reason) for r in listed] == [(flag.id, "群众反复询问，我在解释")]
        with pytest.raises(access.AccessDenied):
            access.rule_on_appeal(s, a["zhang"], appeal.id, uphold_flag=False, ruling="我自己批准")
        access.rule_on_appeal(s, a["insp"], appeal.id, uphold_flag=True, ruling="录音中确为禁语")
        with pytest.raises(ValueError, match="final"):
            access.rule_on_appeal(s, a["insp"], appeal.id, uphold_flag=False, ruling="改判")
        assert flag.status is FlagStatus.CONFIRMED
        mine = access.appeals(s, a["zhang"])
        assert mine[0].decision == "confirm" and mine[0].ruling == "录音中确为禁语" and mine[0].ruled_by == "insp"


def test_citizens_numbers_are_masked_unless_the_role_may_see_them(hall):
    factory, archive = hall
    with factory() as s:
        a = _actors(s)
        fid = _forbidden_flag(s, "1001").id
        def text(actor, policy=access.DEFAULT_POLICY):
            d = access.flag_detail(s, actor, fid, rulebook=RB, archive_dir=archive, policy=policy)
            return "\n".join(t.text for t in d.transcript), d.audio_path
        shown, audio = text(a["insp"])
        assert PHONE in shown and audio and audio.endswith(".flac")
        for who in ("mgr", "zhang"):
            masked, audio = text(a[who])
            assert PHONE not in masked and "＊" * 11 in masked and audio is None
        strict = access.AccessPolicy(pii_roles=frozenset())
        masked, audio = text(a["insp"], strict)
        assert PHONE not in masked and audio is None
        d = access.flag_detail(s, a["insp"], fid, rulebook=RB, archive_dir=archive)
        assert d.audio_start_s == 143.5 and d.rating.level == "不满意" and d.instead[0].rule_id == "courtesy.please_wait"
        flagged = [t for t in d.transcript if t.flagged]
        assert len(flagged) == 1 and flagged[0].hits[0].rule_id == "forbidden.already_told"


def test_management_views_and_the_circular(hall, tmp_path):
    factory, _ = hall
    with factory() as s, s.begin():
        mgr = _actors(s)["mgr"]
        by_window = access.satisfaction(s, mgr, RB, by="window")
        # T0001 非常满意, T0002 不满意, T0003 满意, T0008 非常不满意, and 基本满意 -> good 2 of 5, poor 2 of 5
        assert [(r.key, r.ratings, r.good_rate, r.poor_rate) for r in by_window] == [("A03", 5, 0.4, 0.4)]
        assert access.satisfaction(s, mgr, RB, by="month")[0].key == "2026-03"
        counts, cases = access.follow_up_cases(s, mgr, today=date(2026, 3, 20))
        assert counts["逾期"] == 2 and all(c.overdue for c in cases)
        comp = {r.key: r for r in access.compliance(s, mgr, by="staff")}
        assert comp["1001"].interactions == 6 and comp["1001"].forbidden == 1
        broken = access.rules_most_broken(s, mgr, RB)
        assert access.BrokenRule("forbidden.already_told", "刚才和你说过了，怎么还问", 3) in broken
        rel = access.compliance_vs_satisfaction(s, mgr, RB)
        both = next(r for r in rel.by_courtesy if r.courtesy == "问候+道别")
        none = next(r for r in rel.by_courtesy if r.courtesy == "均未说")
        assert both.poor_rate < none.poor_rate
        circular = access.monthly_circular(s, mgr, "2026-03", RB)
        buf = io.BytesIO()
        access.write_circular_xlsx(circular, buf)
        book = load_workbook(io.BytesIO(buf.getvalue()))
        assert {"服务评价(按窗口)", "规范用语(按人员)", "考勤(按人员)", "考勤(按窗口)"} <= set(book.sheetnames)
        assert book["服务评价(按窗口)"]["A2"].value == "A03"
        sheet = book["考勤(按人员)"]
        header = [c.value for c in sheet[1]]
        zhang = next(dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2) if row[0].value == "1001")
        assert (zhang["late_minutes"], zhang["leave_days"], zhang["punctuality_rate"]) == (12, 1.0, 0.75)  # the stored month
        html = access.render_circular_html(circular)
        assert "窗口服务月度通报 2026-03" in html and "<table>" in html
        access.record_export(s, mgr, "monthly_circular", "2026-03", "xlsx")
        assert s.scalar(select(AuditLog).where(AuditLog.action == "export")).detail == {"month": "2026-03", "format": "xlsx"}


def test_accounts_hash_passwords_and_sessions_expire(hall):
    factory, _ = hall
    with factory() as s, s.begin():
        stored = s.scalar(select(UserAccount.password_hash).where(UserAccount.username == "insp"))
        assert stored.startswith("$2") and PASSWORD not in stored
        with pytest.raises(LoginError):
            authenticate(s, "insp", "wrong-password")
        with pytest.raises(LoginError):
            authenticate(s, "nobody", PASSWORD)
        with pytest.raises(AccountError, match="至少需要 10 个字符"):
            create_account(s, "short", "Short-123", "manager", rounds=4)
        with pytest.raises(AccountError, match="工号"):
            create_account(s, "staffless", "long-enough-1", "staff", rounds=4)
        with pytest.raises(AccountError, match="未知工号"):
            create_account(s, "ghost", "long-enough-1", "staff", staff_no="9999", rounds=4)
        with pytest.raises(AccountError, match="已存在"):
            create_account(s, "insp", "long-enough-1", "inspector", rounds=4)
        actor = authenticate(s, "zhang", PASSWORD)
        assert actor.role is UserRole.STAFF and actor.staff_no == "1001"
        set_password(s, "zhang", "new-password-2", rounds=4)
        with pytest.raises(LoginError):
            authenticate(s, "zhang", PASSWORD)
        assert authenticate(s, "zhang", "new-password-2").user_id == actor.user_id
        set_active(s, "zhang", False)
        with pytest.raises(LoginError):
            reload_actor(s, actor)
        with pytest.raises(LoginError):
            authenticate(s, "zhang", "new-password-2")
        actions = [r for (r,) in s.execute(select(AuditLog.action).order_by(AuditLog.id))]
        assert actions.count("login.failed") == 4 and "account.password" in actions and "account.disable" in actions
    t0 = datetime(2026, 3, 2, 9, 0)
    login = start_session(actor, SessionOptions(idle_minutes=30, max_hours=8), now=t0)
    assert not login.expired(t0 + timedelta(minutes=29))
    assert login.expired(t0 + timedelta(minutes=31))
    for minutes in range(25, 8 * 60, 25):
        login.touch(t0 + timedelta(minutes=minutes))
    assert login.expired(t0 + timedelta(hours=8, minutes=1))  # activity does not extend past max_hours
