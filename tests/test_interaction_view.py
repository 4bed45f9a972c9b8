"""A whole interaction as each role may see it, and what a staff member can never see (plans, reviews, others' lines).

Real SQLite hall (tests/_dashboard_support.py) through the access layer, and the app through
Streamlit's AppTest exactly as ``windowqa dashboard`` starts it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from _dashboard_support import PASSWORD, PHONE, build_hall, set_env, staff_id
from models.db import Flag, FlagKind, Interaction, make_engine, make_session_factory
from models.rulebook import load_rulebook
from scoring import access
from scoring.access.search import SearchFilters, search_transcripts
from scoring.accounts import authenticate

RB = load_rulebook()


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return build_hall(tmp_path_factory.mktemp("view-hall"))


@pytest.fixture
def sessions(hall):
    return make_session_factory(make_engine(hall.url))


def _interaction_of(s, staff_no: str, kind: FlagKind = FlagKind.FORBIDDEN) -> int:
    return s.scalar(select(Flag.interaction_id).where(Flag.kind == kind, Flag.staff_id == staff_id(s, staff_no)))


def test_the_view_shows_every_line_hit_required_phrase_and_lost_point(hall, sessions):
    with sessions() as s:
        insp = authenticate(s, "insp", PASSWORD)
        iid = _interaction_of(s, "1001", FlagKind.SITUATIONAL)
        view = access.interaction_view(s, insp, iid, RB, line=2)
        interaction = s.get(Interaction, iid)
        assert [line.seq for line in view.lines] == [u.seq for u in interaction.utterances]
        assert [line.flagged for line in view.lines].index(True) == 2 and view.highlight == 2
        assert {h.rule_id for h in view.hits} >= {"courtesy.greet", "courtesy.apologize", "citizen.abuse"}
        required = {r.rule_id: r.said for r in view.required}
        assert required == {"courtesy.greet": True, "courtesy.farewell": False}
        # every lost point names the flag that stands for it (and may be appealed)
        assert view.lost and all(x.flag_id is not None for x in view.lost)
        assert sum(x.points for x in view.lost) == pytest.approx(100.0 - interaction.score)
        assert view.can_hear
        clip = access.line_clip(s, insp, iid, 2, archive_dir=hall.archive)
        assert clip is not None and clip.hit_s == pytest.approx(5.0) and clip.start_s == pytest.approx(view.lines[2].start_s - 5.0)


def test_staff_open_only_their_own_interactions_masked_and_without_audio(hall, sessions):
    with sessions() as s:
        zhang, li, mgr = (authenticate(s, u, PASSWORD) for u in ("zhang", "li", "mgr"))
        mine, theirs = _interaction_of(s, "1001"), _interaction_of(s, "1002")
        view = access.interaction_view(s, zhang, mine, RB)
        assert not view.can_hear and access.line_clip(s, zhang, mine, 0, archive_dir=hall.archive) is None
        assert any("＊＊＊＊" in line.text for line in view.lines) and not any(PHONE in line.text for line in view.lines)
        assert {f.id for f in view.flags} <= set(s.scalars(select(Flag.id).where(Flag.staff_id == staff_id(s, "1001"))))
        for call in (lambda: access.interaction_view(s, zhang, theirs, RB), lambda: access.line_clip(s, zhang, theirs, 0),
                     lambda: access.interaction_view(s, li, mine, RB), lambda: access.interaction_view(s, zhang, 10**6, RB)):
            with pytest.raises(access.NotFound):
                call()
        # a manager reads the interaction (masked) but may not hear it
        assert not access.interaction_view(s, mgr, theirs, RB).can_hear and access.line_clip(s, mgr, theirs, 0, archive_dir=hall.archive) is None


def test_staff_never_see_plans_others_reviews_or_others_lines(hall, sessions):
    with sessions() as s, s.begin():
        insp, zhang = authenticate(s, "insp", PASSWORD), authenticate(s, "zhang", PASSWORD)
        plan = access.create_plan(s, insp, access.PlanSpec("三月", per_unit=50, seed=5))
        access.draw_sample(s, insp, plan.id, "2026-03")
        # the inspector reviews one of 李强's interactions and finds a missed forbidden phrase there
        li_item = next(i for i in access.assigned_reviews(s, insp) if i.staff_no == "1002")
        view = access.sampled_interaction(s, insp, li_item.sampled_id)
        staff_line = next(line for line in view.lines if line.role == "staff")
        result = access.record_review(s, insp, li_item.sampled_id, {h.hit_id: True for h in view.hits},
                                      [access.MissSpec("forbidden.go_to_leader", "said", utterance_seq=staff_line.seq)], RB)
        for call in (lambda: access.plans(s, zhang), lambda: access.draws(s, zhang), lambda: access.assigned_reviews(s, zhang, everyone=True),
                     lambda: access.review_progress(s, zhang, everyone=True), lambda: access.sampled_interaction(s, zhang, li_item.sampled_id),
                     lambda: access.field_estimates(s, zhang, "2026-03"), lambda: access.check_draw(s, zhang, li_item.draw_id)):
            with pytest.raises(access.AccessDenied):
                call()
        # the review's flag is 李强's: 张敏 neither lists nor opens it
        assert result.flag_ids[0] not in {r.id for r in access.staff_flagged_utterances(s, zhang, rulebook=RB)}
        with pytest.raises(access.NotFound):
            access.flag_detail(s, zhang, result.flag_ids[0])
        # search: 张敏 finds only lines of interactions she served, whatever the filters
        everyone = search_transcripts(s, insp, "您好")
        assert {h.staff_no for h in everyone} >= {"1001", "1002"}
        mine = search_transcripts(s, zhang, "您好")
        assert mine and {h.staff_no for h in mine} == {"1001"}
        assert search_transcripts(s, zhang, "您好", SearchFilters(window="B01")) == []
        with pytest.raises(access.AccessDenied):
            search_transcripts(s, zhang, "您好", SearchFilters(staff_no="1002"))


def test_staff_have_no_sampling_search_or_interaction_pages(hall, monkeypatch):
    testing = pytest.importorskip("streamlit.testing.v1")
    from test_dashboard_pages import ENTRY, TIMEOUT

    set_env(hall, monkeypatch)
    at = testing.AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="login_user").input("zhang")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception
    at.switch_page("app_pages/my_flags.py")  # a page of theirs opens: the refusals below are about the pages
    at.run()
    assert not at.exception and at.title[0].value == "我的问题与申诉"
    for name in ("sample_review", "search", "interaction"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):  # not among a staff member's pages
            at.switch_page(f"app_pages/{name}.py")
            at.run()


@pytest.mark.parametrize("user", ["insp", "mgr"])
def test_the_interaction_page_opens_at_the_line_and_reads_chinese(hall, sessions, monkeypatch, user):
    pytest.importorskip("streamlit.testing.v1")
    from test_dashboard_labels import problems_on
    from test_dashboard_pages import login, page

    set_env(hall, monkeypatch)
    with sessions() as s:
        iid = _interaction_of(s, "1001", FlagKind.SITUATIONAL)
    at = page(login(user), "interaction", interaction=iid, line=3)
    assert not at.exception and not at.error, (at.exception, at.error)
    assert problems_on(at) == []
    bodies = [h.proto.body for h in at.get("html")]
    assert len([b for b in bodies if "wq-line-highlight" in b]) == 1
    assert any("沉默" in str(d.value.to_string()) for d in at.dataframe)  # the situational deduction, in Chinese
    plays = [b for b in at.button if b.label == "▶"]
    audio = [b for b in bodies if "<audio" in b]
    if user == "insp":
        assert plays and len(audio) == 1
    else:  # a manager reads the lines but hears nothing
        assert not plays and not audio
