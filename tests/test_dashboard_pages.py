"""Every dashboard page for every role, through Streamlit's AppTest on a real SQLite hall.

The hall is built through the store and scoring functions (tests/_dashboard_support.py), its
attendance classified and stored as ``windowqa attendance classify`` does; the app runs exactly as
``windowqa dashboard`` starts it (same entrypoint, same environment).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from _dashboard_support import PASSWORD, PHONE, build_hall, set_env, staff_id
from models.db import AuditLog, Flag, FlagKind, FlagStatus, Review, make_engine, make_session_factory

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest

ENTRY = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
TIMEOUT = 60

PAGES = {
    "inspector": ["queue", "alerts", "flag", "appeals"],
    "staff": ["my_scores", "my_flags", "my_ratings", "my_attendance", "my_leave", "profile", "flag"],
    "manager": ["satisfaction", "follow_ups", "compliance", "attendance", "leave_approval", "attendance_appeals", "substitutes",
                "relation", "export", "trends", "watch_list", "profile", "queue", "alerts", "flag", "appeals"],
    "admin": ["accounts", "satisfaction", "follow_ups", "compliance", "attendance", "leave_approval", "attendance_appeals",
              "substitutes", "relation", "export", "trends", "watch_list", "profile", "queue", "alerts", "flag", "appeals"],
}
USER_OF = {"inspector": "insp", "staff": "zhang", "manager": "mgr", "admin": "admin"}
# What each page must show of the fixture hall (values that the later tests' decisions, appeals and
# follow-up steps do not change). Management pages show the same to a manager and an admin.
MANAGEMENT_SHOWS = {
    "satisfaction": ["5 评价数", "40.0% 好评率", "企业开办"],  # A03: 5 ratings, 2 good
    "follow_ups": ["态度不好，说话很冲", "等了很久没人"],  # the two 差评 cases
    "compliance": ["刚才和你说过了，怎么还问", "16.67"],  # forbidden per 100 interactions at A03 and B01
    # the stored month through the 3rd: 张敏 late 12 min and on 事假, 王芳 and 赵磊 absent
    "attendance": ["统计至 2026-03-03", "45.8% 准时率", "1 迟到次数", "3 旷工（天）", "1 请假（天）", "赵磊", "未履行请假手续", "事假 1"],
    # 张敏's 事假 of the 3rd came from a leave file (decided in the site's own system); the hall's
    # manager is no approver; 李强's substitute of the 3rd was filed the afternoon before
    "leave_approval": ["部门负责人 → 督查考核科", "您不是请假审批人", "请假文件（原系统已审批）", "事假"],
    "attendance_appeals": ["0 待裁定", "暂无考勤申诉"],
    "substitutes": ["李强", "张敏 事假（已批准）", "2026-03-02 16:40:00"],
    "relation": ["问候+道别", "均未说"],
    "export": ["月度通报导出"],  # and the month picker on the hall's month (below)
    "queue": ["forbidden.already_told", "王芳", "李强", "实时提醒 0 条"],
    "alerts": ["实时提醒", "暂无实时提醒"],  # the hall has no live recordings
    "flag": ["刚才和你说过了，怎么还问", "请稍等", "1001 张敏"],
    "appeals": ["待裁定"],
    # the month's figures of the hall (A03: 5 ratings, 2 good, 2 差评 not called back; 18 interactions, 9 with both)
    "trends": ["2026-03 指标及环比", "全厅", "评价器维度评分"],
    "watch_list": ["约谈名单", "连续 2 个月"],
    "profile": ["1001 张敏", "市场监管局", "刚才和你说过了"],  # the first staff member: the forbidden phrase by name
}
SHOWS = {
    "inspector": {"queue": MANAGEMENT_SHOWS["queue"], "alerts": MANAGEMENT_SHOWS["alerts"], "flag": [*MANAGEMENT_SHOWS["flag"], PHONE], "appeals": ["0 待裁定", "暂无申诉"]},
    "staff": {
        "my_scores": ["6 接待次数", "您好，您需要办理什么业务"],
        "my_flags": ["刚才和你说过了，怎么还问", "请稍等"],  # the forbidden phrase and what to say instead
        "my_ratings": ["5 评价数", "40.0%", "态度不好，说话很冲"],
        "my_attendance": ["统计至 2026-03-03", "75.0% 准时率", "1 / 0 迟到/早退", "0 / 1 旷工/请假（天）", "迟到", "事假"],
        "my_leave": ["部门负责人 → 督查考核科", "请假文件（原系统已审批）", "已批准"],
        "flag": ["刚才和你说过了，怎么还问", "＊＊＊＊"],
        "profile": ["我的档案", "1001 张敏", "条新的问题标记待阅", "40.0% 好评率"],
    },
    "manager": MANAGEMENT_SHOWS,
    "admin": {**MANAGEMENT_SHOWS, "accounts": ["zhang", "account.create"]},
}
# what a page must not show a role (other staff's data)
HIDDEN = {"staff": ["李强", "王芳", "赵磊", PHONE]}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return build_hall(tmp_path_factory.mktemp("dash-hall"))


@pytest.fixture
def env(hall, monkeypatch):
    set_env(hall, monkeypatch)
    return hall


def _sessions(hall):
    return make_session_factory(make_engine(hall.url))


def login(user: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    at.button[0].click()
    at.run()
    return at


def page(at: AppTest, name: str, **params) -> AppTest:
    for key, value in params.items():
        at.query_params[key] = str(value)
    at.switch_page(f"app_pages/{name}.py")
    at.run()
    return at


def text_of(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "text", "html", "title", "subheader", "caption", "metric", "error", "warning", "info", "success"):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "value", "")) + " " + str(getattr(el, "label", "")))
    for df in at.dataframe:
        parts.append(df.value.to_string())
    return "\n".join(parts)


def test_login_refuses_a_wrong_password(env):
    at = login("insp", "not-the-password")
    assert at.error and "登录失败" in at.error[0].value
    with _sessions(env)() as s:
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "login.failed", AuditLog.actor == "insp")) is not None


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_of_every_role_shows_the_hall(env, role):
    at = login(USER_OF[role])
    assert not at.exception, at.exception
    assert set(SHOWS[role]) == set(PAGES[role])
    for name in PAGES[role]:
        params = {"flag": 1} if name == "flag" else {}
        page(at, name, **params)
        assert not at.exception, f"{role} {name}: {at.exception}"
        assert not at.error, f"{role} {name}: {[e.value for e in at.error]}"
        shown = text_of(at)
        missing = [want for want in SHOWS[role][name] if want not in shown]
        assert not missing, f"{role} {name} does not show {missing}"
        leaked = [no for no in HIDDEN.get(role, ()) if no in shown]
        assert not leaked, f"{role} {name} shows {leaked}"
        if name == "export":
            assert at.selectbox(key="x_month").value == "2026-03"
        at.query_params.clear()


def test_inspector_queue_lists_and_filters_flags(env):
    at = page(login("insp"), "queue")
    table = at.dataframe[0].value
    assert {"forbidden", "missing_courtesy", "poor_rating"} <= set(at.dataframe[0].value["kind_label"].map(
        {"服务禁语": "forbidden", "缺少问候/道别": "missing_courtesy", "差评": "poor_rating"}).dropna())
    assert len(table) >= 10
    at.multiselect(key="q_rules").select("forbidden.already_told")
    at.run()
    filtered = at.dataframe[0].value
    assert set(filtered["rule_id"]) == {"forbidden.already_told"} and len(filtered) == 3
    at.multiselect(key="q_staff").select("1001 张敏")
    at.run()
    assert list(at.dataframe[0].value["staff_no"]) == ["1001"]


def test_inspector_opens_a_flag_with_audio_at_the_hit_and_confirms_it(env):
    with _sessions(env)() as s:
        fid = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, "1001")))
    at = page(login("insp"), "flag", flag=fid)
    players = [el.proto.body for el in at.get("html") if "wq-audio-clip" in el.proto.body]
    assert players and "#t=5.0'" in players[0], "no audio player"  # the clip starts 5 s before the hit (143.5 s) and plays from it
    html = text_of(at)
    assert "<mark" in html and "forbidden.already_told" in html  # highlighted hit
    assert "不满意" in html and "态度不好" in html  # the linked rating and its comment
    assert "请稍等" in html  # the prescribed phrase
    at.radio(key="decision").set_value("confirm")
    at.button[-1].click() if not at.get("form_submit_button") else None
    at.text_input(key="reason").input("录音核实")
    submit = [b for b in at.button if b.label == "提交决定"][0]
    submit.click()
    at.run()
    assert not at.exception
    with _sessions(env)() as s:
        assert s.get(Flag, fid).status is FlagStatus.CONFIRMED
        review = s.scalar(select(Review).where(Review.flag_id == fid))
        assert review.decision.value == "confirm" and review.comment == "录音核实"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "review.decide", AuditLog.entity_id == fid)).actor == "insp"


def test_transcripts_hide_citizens_numbers_from_roles_not_allowed(env):
    with _sessions(env)() as s:
        fid = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, "1001")))
    seen = text_of(page(login("insp"), "flag", flag=fid))
    assert PHONE in seen  # inspectors may (site policy default)
    masked = text_of(page(login("zhang"), "flag", flag=fid))
    assert PHONE not in masked and "＊＊＊＊" in masked
    assert not page(login("zhang"), "flag", flag=fid).get("audio")  # recordings carry the numbers too


def test_staff_see_only_their_own_data_whatever_the_url(env):
    with _sessions(env)() as s:
        li = staff_id(s, "1002")
        other_flag = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == li))
        zhang_flags = set(s.scalars(select(Flag.id).where(Flag.staff_id == staff_id(s, "1001"))))
    at = login("zhang")
    shown_ids = set(page(at, "my_flags").dataframe[0].value["id"])
    assert shown_ids and shown_ids <= zhang_flags
    for name in ("my_scores", "my_flags", "my_ratings", "my_attendance"):
        at.query_params.clear()
        page(at, name, staff=li)
        assert at.error and "may see only their own" in at.error[0].value, name
        assert "李强" not in text_of(at) and not at.dataframe, name
    at.query_params.clear()
    page(at, "flag", flag=other_flag)
    assert at.error and not at.get("audio") and "刚才和你说过了" not in text_of(at).replace(at.error[0].value, "")
    # management pages are not in a staff member's navigation, and switching there fails
    with pytest.raises(Exception):
        page(at, "satisfaction")


def test_staff_appeal_reaches_the_inspector_whose_ruling_is_final(env):
    with _sessions(env)() as s:
        zhang = staff_id(s, "1001")
        fid = s.scalar(
            select(Flag.id).where(Flag.kind == FlagKind.MISSING_COURTESY, Flag.staff_id == zhang, Flag.status == FlagStatus.OPEN).order_by(Flag.id.desc())
        )
    at = page(login("zhang"), "my_flags")
    assert "您好，您需要办理什么业务" in text_of(at)  # the prescribed greeting next to a missing-courtesy flag
    at.selectbox(key="ap_flag").set_value(fid)
    at.text_area(key="ap_reason").input("该群众是同事，未办理业务")
    [b for b in at.button if b.label == "提交申诉"][0].click()
    at.run()
    assert not at.exception
    insp = page(login("insp"), "appeals")
    assert "该群众是同事" in text_of(insp)
    insp.selectbox(key="appeal_pick").set_value(insp.selectbox(key="appeal_pick").options[0] and _pending_id(env, fid))
    insp.radio(key="appeal_outcome").set_value("accept")
    insp.text_area(key="appeal_ruling").input("录音核实为同事间交谈")
    [b for b in insp.button if b.label == "提交裁定"][0].click()
    insp.run()
    assert not insp.exception
    with _sessions(env)() as s:
        assert s.get(Flag, fid).status is FlagStatus.DISMISSED
        appeal = s.scalar(select(Review).where(Review.flag_id == fid, Review.kind == "appeal"))
        assert appeal.decision.value == "dismiss" and appeal.ruling == "录音核实为同事间交谈"
        # the accepted appeal gives the interaction its courtesy points back
        restored = s.scalar(select(Review.score_adjustment).where(Review.flag_id == fid, Review.decision == "adjust"))
        assert restored in (10.0, 20.0)


def _pending_id(hall, fid):
    with _sessions(hall)() as s:
        return s.scalar(select(Review.id).where(Review.flag_id == fid, Review.kind == "appeal"))


def test_manager_exports_the_circular_and_it_is_audited(env):
    at = page(login("mgr"), "export")
    at.selectbox(key="x_month").set_value("2026-03")
    [b for b in at.button if b.label == "生成通报"][0].click()
    at.run()
    assert not at.exception and at.success
    with _sessions(env)() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "export", AuditLog.actor == "mgr"))
        assert row.detail["month"] == "2026-03"
    xlsx = at.session_state["circular"][1]
    # the second export of the month is the file built for the role, and it is audited too
    [b for b in at.button if b.label == "生成通报"][0].click()
    at.run()
    assert not at.exception and at.session_state["circular"][1] == xlsx
    with _sessions(env)() as s:
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "export", AuditLog.actor == "mgr")).all()) == 2


def test_session_expires(env):
    at = login("mgr")
    login_state = at.session_state["windowqa_login"]
    login_state.last_seen = datetime.now() - timedelta(hours=2)
    at.run()
    assert at.text_input(key="login_user") is not None
    assert any("过期" in w.value for w in at.warning)


def test_repeated_failures_lock_the_login_page(env):
    for _ in range(5):  # the default limit of one user name
        at = login("li", "not-the-password")
    assert "登录失败次数过多" in at.error[0].value
    at = login("li")  # the right password is refused while locked
    assert at.error[0].value.startswith("登录失败次数过多") and at.text_input(key="login_user") is not None
    with _sessions(env)() as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action == "login.failed", AuditLog.actor == "li")))
        assert len(rows) == 6 and rows[-1].detail == {"reason": "locked", "address": "local"}


def test_admin_creates_an_account_in_the_app(env):
    at = page(login("admin"), "accounts")
    at.text_input(key="acc_user").input("weak")
    at.text_input(key="acc_password").input("password")
    [b for b in at.button if b.label == "创建"][0].click()
    at.run()
    assert at.error and "密码太弱" in at.error[0].value
    at.text_input(key="acc_user").input("wang")
    at.text_input(key="acc_password").input("another-pass-1")
    at.selectbox(key="acc_role").set_value("staff")
    at.text_input(key="acc_staff").input("2001")
    [b for b in at.button if b.label == "创建"][0].click()
    at.run()
    assert not at.exception and not at.error
    wang = login("wang", "another-pass-1")
    dates = {str(d)[:10] for d in page(wang, "my_flags").dataframe[0].value["raised_at"]}
    assert dates == {"2026-03-09"}  # 王芳 served B01 on the 9th only


def test_manager_records_a_follow_up_step(env):
    at = page(login("mgr"), "follow_ups")
    case = at.selectbox(key="fu_case").value
    at.radio(key="fu_step").set_value("called_back")
    at.text_area(key="fu_note").input("已电话回访，群众表示理解")
    [b for b in at.button if b.label == "记录"][0].click()
    at.run()
    assert not at.exception and not at.error, case
    with _sessions(env)() as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "follow_up.step"))
        assert row.actor == "mgr" and row.detail["step"] == "called_back"
