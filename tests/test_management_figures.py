"""Management figures across months (scoring.access.management), the staff profile and 已阅, on the test hall plus two earlier months.

The hall (tests/_dashboard_support.py) has March 2026; this module adds January and February ratings
so that the month-on-month change and the watch list (bottom 2 for 2 months running) have something
to find:

    好评率     Jan    Feb          Mar
    1001 张敏  5/5    1/5 (0.2)    2/5 (0.4, the hall's own)
    1002 李强  -      2/5 (0.4)    1/5 (0.2)
    2001 王芳  -      5/5          5/5
    2002 赵磊  -      4/5 (0.8)    5/5

so 张敏 and 李强 are the bottom two in February and March (约谈), and window A03 (theirs) is the lowest
window both months while B02 is in the bottom two only in February.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from _dashboard_support import PASSWORD, build_hall, staff_id
from models.db import AuditLog, Flag, FlagKind, FollowUpStatus, Rating, Window, make_engine, make_session_factory
from models.feedback_db import FlagAcknowledgementRow
from models.rulebook import load_rulebook
from scoring import access
from scoring.access import feedback, management, profile
from scoring.accounts import authenticate

# 工号 -> {month: good ratings of 5}
EXTRA = {"1001": {"2026-01": 5, "2026-02": 1}, "1002": {"2026-02": 2, "2026-03": 1}, "2001": {"2026-02": 5, "2026-03": 5}, "2002": {"2026-02": 4, "2026-03": 5}}
WINDOW_OF = {"1001": "A03", "1002": "A03", "2001": "B01", "2002": "B02"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    base = build_hall(tmp_path_factory.mktemp("mgmt-base"))
    root = tmp_path_factory.mktemp("mgmt-hall")
    shutil.copy(base.db_path, root / "windowqa.db")
    url = f"sqlite:///{root / 'windowqa.db'}"
    rulebook = load_rulebook()
    levels = rulebook.ratings.levels
    factory = make_session_factory(make_engine(url))
    with factory() as s, s.begin():
        windows = {w.code: w.id for w in s.scalars(select(Window))}
        n = 0
        for staff_no, months in EXTRA.items():
            sid = staff_id(s, staff_no)
            for month, good in months.items():
                for i in range(5):
                    n += 1
                    level = levels[0] if i < good else levels[2]  # 基本满意: neither good nor poor
                    s.add(Rating(serial_no=f"X{n:04d}", rated_at=datetime.strptime(month, "%Y-%m").replace(day=10 + i, hour=10), window_id=windows[WINDOW_OF[staff_no]],
                                 staff_id=sid, level=level, level_rank=levels.index(level), is_poor=False))
    return url, factory, base.archive


def _actors(factory):
    with factory() as s:
        return {u: authenticate(s, u, PASSWORD) for u in ("mgr", "zhang", "li", "insp")}


def test_trend_has_the_month_on_month_change_by_department_window_and_staff(hall):
    url, factory, archive = hall
    rb = load_rulebook()
    actors = _actors(factory)
    with factory() as s:
        by_staff = {(r.month, r.key): r for r in management.management_trend(s, actors["mgr"], rb, by="staff", through="2026-03")}
        hall_rows = {r.month: r for r in management.management_trend(s, actors["mgr"], rb, by="hall", through="2026-03")}
        depts = management.management_trend(s, actors["mgr"], rb, by="department", through="2026-03")
        sat = {r.key: r for r in access.satisfaction(s, actors["mgr"], rb, by="department", start=date(2026, 3, 1), end=date(2026, 3, 31))}
    assert by_staff[("2026-02", "1001")].good_rate == 0.2 and by_staff[("2026-03", "1001")].good_rate == 0.4
    assert by_staff[("2026-03", "1001")].good_rate_change == 0.2
    assert by_staff[("2026-02", "1001")].good_rate_change == -0.8  # January 5 of 5
    assert by_staff[("2026-02", "1002")].good_rate_change is None  # no January
    assert hall_rows["2026-03"].ratings == 5 + 15
    assert hall_rows["2026-03"].good_rate_change == round(hall_rows["2026-03"].good_rate - hall_rows["2026-02"].good_rate, 4)
    # the department trend of March is the satisfaction page's figure for the month
    march = {r.key: r for r in depts if r.month == "2026-03"}
    assert {k: r.good_rate for k, r in march.items() if r.ratings} == {k: r.good_rate for k, r in sat.items()}
    assert march["SCJG"].punctuality_rate == 0.875 and march["SCJG"].both_rate == 0.5


def test_watch_list_names_the_bottom_two_for_two_months_running(hall):
    url, factory, archive = hall
    rb = load_rulebook()
    actors = _actors(factory)
    with factory() as s:
        staff = management.watch_list(s, actors["mgr"], rb, unit="staff", through="2026-03")
        windows = management.watch_list(s, actors["mgr"], rb, unit="window", through="2026-03")
        feb = management.watch_list(s, actors["mgr"], rb, unit="staff", through="2026-02")
        with pytest.raises(access.AccessDenied):
            management.watch_list(s, actors["insp"], rb)
    assert [(e.key, e.months_running, e.since) for e in staff] == [("1002", 2, "2026-02"), ("1001", 2, "2026-02")]
    assert "2026-02 倒数第 1" in staff[1].detail  # 张敏 was the lowest in February
    assert [e.key for e in windows] == ["A03"]  # B02 was in the bottom two in February only
    assert feb == []  # 张敏 had 5 of 5 in January: one month is no run


def test_follow_up_rates_count_called_back_and_rectified_against_the_target(hall):
    url, factory, archive = hall
    rb = load_rulebook()
    actors = _actors(factory)
    with factory() as s, s.begin():
        cases = sorted(c.id for c in access.follow_up_cases(s, actors["mgr"])[1])
        assert len(cases) == 2
        access.advance_follow_up(s, actors["mgr"], cases[0], FollowUpStatus.CALLED_BACK, "已电话回访")
    with factory() as s:
        rates = management.follow_up_rates(s, actors["mgr"], rb, by="window", start=date(2026, 3, 1), end=date(2026, 3, 31))
        mine = management.follow_up_rates(s, actors["zhang"], rb, by="hall")
        with pytest.raises(access.AccessDenied):
            management.follow_up_rates(s, actors["zhang"], rb, staff_id=staff_id(s, "1002"))
    assert [(r.key, r.poor, r.called_back, r.callback_rate, r.rectify_rate, r.below_target) for r in rates] == [("A03", 2, 1, 0.5, 0.0, True)]
    assert [(r.key, r.callback_rate) for r in mine] == [("1001", 0.5)]  # a staff member gets their own


def test_dimension_scores_and_department_attendance(hall):
    url, factory, archive = hall
    actors = _actors(factory)
    with factory() as s:
        dims = {(r.key, r.dimension): (r.ratings, r.mean) for r in management.dimension_scores(s, actors["mgr"], by="window")}
        dept = {r.key: r for r in management.attendance_by_department(s, actors["mgr"], "2026-03")}
    assert dims == {("A03", "态度"): (3, 3.33), ("A03", "效率"): (3, 3.67)}  # the terminal's dim_ columns of March
    assert dept["SCJG"].staff == 2 and dept["SCJG"].late_count == 1 and dept["SCJG"].punctuality_rate == 0.875


def test_profile_is_the_staff_members_own_and_counts_what_is_new(hall):
    url, factory, archive = hall
    rb = load_rulebook()
    actors = _actors(factory)
    with factory() as s:
        zhang = staff_id(s, "1001")
        mine = profile.staff_profile(s, actors["zhang"], rb)
        by_mgr = profile.staff_profile(s, actors["mgr"], rb, staff_id=zhang)
        with pytest.raises(access.AccessDenied):
            profile.staff_profile(s, actors["zhang"], rb, staff_id=staff_id(s, "1002"))
        with pytest.raises(access.AccessDenied):
            profile.staff_profile(s, actors["insp"], rb, staff_id=zhang)
        own_flags = s.scalar(select(func.count(Flag.id)).where(Flag.staff_id == zhang, Flag.kind.in_(feedback.STAFF_FLAG_KINDS)))
    assert mine.staff_no == "1001" and [m.month for m in mine.months] == ["2026-01", "2026-02", "2026-03"]
    assert {r.rule_id for r in mine.forbidden} == {"forbidden.already_told"} and mine.phrases_used[0].rule_id == "courtesy.greet"
    assert mine.attendance[0].late_minutes == 12 and len(mine.follow_ups) == 2
    assert mine.new_flags == own_flags > 0 and by_mgr.new_flags == 0  # only the staff member's own view counts what is new to them
    assert by_mgr.months == mine.months


def test_acknowledging_a_flag_is_stored_audited_and_only_the_staff_members(hall):
    url, factory, archive = hall
    actors = _actors(factory)
    with factory() as s:
        zhang, li = staff_id(s, "1001"), staff_id(s, "1002")
        own = s.scalar(select(Flag.id).where(Flag.staff_id == zhang, Flag.kind == FlagKind.FORBIDDEN))
        other = s.scalar(select(Flag.id).where(Flag.staff_id == li, Flag.kind == FlagKind.FORBIDDEN))
        before = feedback.unacknowledged_count(s, actors["zhang"])
    with factory() as s, s.begin():
        assert feedback.acknowledge_flag(s, actors["zhang"], own) is True
        assert feedback.acknowledge_flag(s, actors["zhang"], own) is False  # once
        with pytest.raises(access.NotFound):
            feedback.acknowledge_flag(s, actors["zhang"], other)
        with pytest.raises(access.AccessDenied):
            feedback.acknowledge_flag(s, actors["insp"], own)
    with factory() as s:
        assert feedback.unacknowledged_count(s, actors["zhang"]) == before - 1
        assert s.scalar(select(func.count(FlagAcknowledgementRow.id)).where(FlagAcknowledgementRow.flag_id == own)) == 1
        assert s.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "flag.acknowledge", AuditLog.entity_id == own)) == 1
        rows = {r.id: r for r in access.staff_flagged_utterances(s, actors["zhang"], rulebook=load_rulebook())}
        assert rows[own].acked_at is not None and all(r.acked_at is None for i, r in rows.items() if i != own)


def test_staff_hear_their_own_flags_audio_only_when_the_site_allows(hall):
    url, factory, archive = hall
    actors = _actors(factory)
    with factory() as s:
        own = s.scalar(select(Flag.id).where(Flag.staff_id == staff_id(s, "1001"), Flag.kind == FlagKind.FORBIDDEN))
        off = access.flag_detail(s, actors["zhang"], own, archive_dir=archive)
        on = access.flag_detail(s, actors["zhang"], own, archive_dir=archive, policy=access.AccessPolicy(staff_hear_own_audio=True))
        assert off.audio is None and on.audio is not None and not on.unmasked  # the texts stay masked
        assert access.record_flag_view(s, actors["zhang"], on)  # hearing it is audited
