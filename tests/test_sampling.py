"""Sampled review (抽检): reproducible stratified draws over every interaction, role limits, reviews that raise flags.

Real SQLite store (the dashboard tests' small hall, built through the store and scoring
functions); the draw itself is also checked as the pure function it is.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from _dashboard_support import PASSWORD, populate, staff_id
from _store_support import factory, sqlite_url  # noqa: F401
from models.db import AuditLog, Flag, FlagKind, FlagStatus, Interaction, RuleHitRow, Utterance
from models.domain import Role, RuleFamily
from models.review_db import SampledInteractionRow, SamplingPlanRow
from models.rulebook import load_rulebook
from scoring import access
from scoring.access.sampling import draw_strata, period_bounds, period_month
from scoring.accounts import authenticate

RB = load_rulebook()
MONTH = "2026-03"


@pytest.fixture
def hall(factory, tmp_path):
    populate(factory, tmp_path / "archive", rounds=4)
    return factory


def _actors(s):
    return {u: authenticate(s, u, PASSWORD) for u in ("insp", "zhang", "li", "mgr")}


def _plan(s, actor, **kw):
    spec = access.PlanSpec(name="三月抽检", per_unit=kw.pop("per_unit", 2), seed=kw.pop("seed", 7), **kw)
    return access.create_plan(s, actor, spec)


def _drawn_ids(s, draw_id):
    return sorted(s.scalars(select(SampledInteractionRow.interaction_id).where(SampledInteractionRow.draw_id == draw_id)))


def test_periods():
    assert period_bounds("2026-03")[0].isoformat() == "2026-03-01T00:00:00"
    assert period_bounds("2026-12")[1].isoformat() == "2027-01-01T00:00:00"
    assert period_bounds("2026-W10")[0].isoformat() == "2026-03-02T00:00:00"  # ISO week 10 of 2026 starts Monday 2 March
    assert period_month("2026-W01") == "2026-01" and period_month("2025-W01") == "2025-01"  # 2025-W01 starts 30 Dec 2024
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_bounds("March")


def test_draw_is_reproducible_covers_unflagged_and_records_weights(hall):
    with hall() as s, s.begin():
        a = _actors(s)
        served = s.scalar(select(func.count()).select_from(Interaction).where(Interaction.served.is_(True)))
        first = access.draw_sample(s, a["insp"], _plan(s, a["insp"]).id, MONTH)
        second = access.draw_sample(s, a["mgr"], _plan(s, a["mgr"]).id, MONTH)  # another plan, same seed and data
        third = access.draw_sample(s, a["insp"], _plan(s, a["insp"], per_unit=50).id, MONTH)
        assert first.population == served > 0
        assert _drawn_ids(s, first.id) == _drawn_ids(s, second.id) and first.strata == second.strata
        assert access.check_draw(s, a["mgr"], first.id)
        s.get(Interaction, _drawn_ids(s, third.id)[0]).served = False  # the data changed since: the redraw differs
        s.flush()
        assert not access.check_draw(s, a["mgr"], third.id)
        items = list(s.scalars(select(SampledInteractionRow).where(SampledInteractionRow.draw_id == third.id)))
        assert len(items) == served  # 50 per staff member: everything, flagged and unflagged alike
        assert {i.flagged for i in items} == {True, False}
        for i in items:
            assert i.inclusion_prob == pytest.approx(i.stratum_drawn / i.stratum_size)
        assert {i.stratum.split("|")[1] for i in items} == {"flagged", "unflagged"}
        with pytest.raises(ValueError, match="already drawn"):
            access.draw_sample(s, a["insp"], first.plan_id, MONTH)
        with pytest.raises(ValueError, match="per month"):
            access.draw_sample(s, a["insp"], first.plan_id, "2026-W10")
        week = access.draw_sample(s, a["insp"], _plan(s, a["insp"], per_unit=50, period_kind="week").id, "2026-W10")
        in_week = s.scalar(select(func.count()).select_from(Interaction).where(
            Interaction.served.is_(True), Interaction.started_at >= period_bounds("2026-W10")[0], Interaction.started_at < period_bounds("2026-W10")[1]))
        assert week.population == in_week < served  # B01's day (the 9th) is in the next week
        logged = s.scalars(select(AuditLog).where(AuditLog.action == "sample_draw")).all()
        assert len(logged) == 4 and logged[0].detail["seed"] == 7 and logged[0].detail["population"] == served


def _population(units=3, per=40, flagged_every=5):
    return [(u * 1000 + i, f"staff:{u}", i % flagged_every == 0) for u in range(units) for i in range(per)]


def test_draw_strata_allocates_by_stratum_and_depends_on_the_seed():
    plan = SamplingPlanRow(unit="staff", per_unit=10, stratify_flagged=True, flagged_share=0.3)
    pop = _population()
    strata = draw_strata(plan, pop, "2026-03", 1)
    assert set(strata) == {f"staff:{u}|{k}" for u in range(3) for k in ("flagged", "unflagged")}
    assert all(strata[f"staff:{u}|flagged"] [0] == 8 and len(strata[f"staff:{u}|flagged"][1]) == 3 for u in range(3))
    assert all(len(strata[f"staff:{u}|unflagged"][1]) == 7 for u in range(3))
    flagged_ids = {iid for iid, _, f in pop if f}
    assert all(set(ids) <= flagged_ids for k, (_, ids) in strata.items() if k.endswith("|flagged"))
    assert draw_strata(plan, list(reversed(pop)), "2026-03", 1) == strata  # order of the rows does not matter
    assert draw_strata(plan, pop, "2026-03", 2) != strata
    assert draw_strata(plan, pop, "2026-04", 1) != strata
    # a unit short of flagged interactions takes the rest from its unflagged ones
    short = SamplingPlanRow(unit="staff", per_unit=12, stratify_flagged=True, flagged_share=0.5)
    few = draw_strata(short, _population(units=1, per=20, flagged_every=10), "2026-03", 1)
    assert len(few["staff:0|flagged"][1]) == 2 and len(few["staff:0|unflagged"][1]) == 10


def test_staff_see_no_plans_draws_or_reviews(hall):
    with hall() as s, s.begin():
        a = _actors(s)
        plan = _plan(s, a["insp"])
        draw = access.draw_sample(s, a["insp"], plan.id, MONTH)
        item = access.assigned_reviews(s, a["insp"])[0]
        for call in (
            lambda: access.create_plan(s, a["zhang"], access.PlanSpec("x", 1)),
            lambda: access.plans(s, a["zhang"]),
            lambda: access.draw_sample(s, a["zhang"], plan.id, "2026-04"),
            lambda: access.draws(s, a["zhang"]),
            lambda: access.assigned_reviews(s, a["zhang"]),
            lambda: access.review_progress(s, a["zhang"]),
            lambda: access.sampled_interaction(s, a["zhang"], item.sampled_id),
            lambda: access.record_review(s, a["zhang"], item.sampled_id, {}, [], RB),
            lambda: access.field_estimates(s, a["zhang"], MONTH),
        ):
            with pytest.raises(access.AccessDenied):
                call()
        # a manager sees the plans and progress but does not review
        assert [p.id for p in access.plans(s, a["mgr"])] == [plan.id]
        assert access.review_progress(s, a["mgr"])[0].total == len(_drawn_ids(s, draw.id))
        with pytest.raises(access.AccessDenied):
            access.record_review(s, a["mgr"], item.sampled_id, {}, [], RB)


def _unflagged_item(s, insp):
    items = [i for i in access.assigned_reviews(s, insp) if not i.flagged]
    for i in items:
        view = access.sampled_interaction(s, insp, i.sampled_id)
        if any(line.role == Role.STAFF.value for line in view.lines):
            return i, view
    raise AssertionError("the hall has no unflagged interaction with staff speech")


def test_missed_forbidden_phrase_becomes_a_confirmed_flag_the_staff_member_sees_and_appeals(hall):
    with hall() as s, s.begin():
        a = _actors(s)
        plan = _plan(s, a["insp"], per_unit=50, window_codes=("A03",))
        access.draw_sample(s, a["insp"], plan.id, MONTH)
        item, view = _unflagged_item(s, a["insp"])
        staff_line = next(line for line in view.lines if line.role == Role.STAFF.value)
        marks = {h.hit_id: True for h in view.hits}
        wrong_hit = next(iter(marks), None)
        if wrong_hit is not None:
            marks[wrong_hit] = False
        result = access.record_review(s, a["insp"], item.sampled_id, marks,
                                      [access.MissSpec("forbidden.go_to_leader", "said", utterance_seq=staff_line.seq, note="远场漏识别"),
                                       access.MissSpec("courtesy.farewell", "missing")], RB)
        assert result.misses == 2 and result.wrong == (1 if wrong_hit is not None else 0)
        flag = s.get(Flag, result.flag_ids[0])
        # the farewell really missing costs its points only where the system heard one (tests/test_deduction_flags.py)
        heard = any(line.get("rule_id") == "courtesy.farewell" and not line.get("points") for line in s.get(Interaction, item.interaction_id).explanation)
        assert [s.get(Flag, f).kind for f in result.flag_ids[1:]] == ([FlagKind.MISSING_COURTESY] if heard else [])
        assert flag.status is FlagStatus.CONFIRMED and flag.kind is FlagKind.FORBIDDEN and flag.interaction_id == item.interaction_id
        assert s.get(Utterance, flag.utterance_id).seq == staff_line.seq
        who = s.get(Interaction, item.interaction_id).staff_id
        owner = "zhang" if who == staff_id(s, "1001") else "li"
        _, rows = access.flag_queue(s, a[owner], access.FlagFilter(statuses=()))
        assert flag.id in {r.id for r in rows}
        assert access.file_appeal(s, a[owner], flag.id, "当时说的是请稍等").id
        assert s.scalar(select(AuditLog).where(AuditLog.action == "sample_review")).detail["flags"] == list(result.flag_ids)
        with pytest.raises(ValueError, match="already reviewed"):
            access.record_review(s, a["insp"], item.sampled_id, marks, [], RB)
        assert access.review_progress(s, a["insp"])[0].reviewed == 1
        assert access.check_draw(s, a["insp"], item.draw_id)  # the review's own flag does not change the redraw
        # the miss counts against recall: the unflagged interaction had no forbidden hit, so 0 of 1 found
        report = access.field_estimates(s, a["mgr"], MONTH)
        forbidden = next(f for f in report.families if f.family == "forbidden")
        assert report.reviewed == 1 and forbidden.recall.value == 0.0 and forbidden.recall.n == 1 and forbidden.precision.value is None
        assert [f.rule_id for f in report.rules if f.family == "forbidden"] == ["forbidden.go_to_leader"]
        if wrong_hit is not None:
            family = s.get(RuleHitRow, wrong_hit).family.value
            fig = next(f for f in report.families if f.family == family)
            assert fig.precision.n == sum(1 for h in view.hits if h.family == family) and fig.precision.value < 1


def test_review_must_mark_every_hit_and_name_a_known_rule(hall):
    with hall() as s, s.begin():
        a = _actors(s)
        access.draw_sample(s, a["insp"], _plan(s, a["insp"], per_unit=50).id, MONTH)
        flagged = next(i for i in access.assigned_reviews(s, a["insp"]) if i.flagged and access.sampled_interaction(s, a["insp"], i.sampled_id).hits)
        with pytest.raises(ValueError, match="mark every hit"):
            access.record_review(s, a["insp"], flagged.sampled_id, {}, [], RB)
        hits = {h.hit_id: True for h in access.sampled_interaction(s, a["insp"], flagged.sampled_id).hits}
        with pytest.raises(ValueError, match="unknown rule"):
            access.record_review(s, a["insp"], flagged.sampled_id, hits, [access.MissSpec("forbidden.nonexistent", "said", utterance_seq=0)], RB)


def test_cli_plan_draw_list_review_and_field(hall, sqlite_url):
    from windowqa.cli import app

    runner = CliRunner()
    db = ["--db", sqlite_url]
    out = runner.invoke(app, ["sample", "plan-add", "--as", "insp", "--name", "三月", "--per-unit", "50", "--seed", "3", *db])
    assert out.exit_code == 0, out.output
    plan_id = int(out.output.split()[1].rstrip(":"))
    out = runner.invoke(app, ["sample", "draw", "--as", "insp", "--plan", str(plan_id), "--period", MONTH, *db])
    assert out.exit_code == 0 and "draw" in out.output, out.output
    out = runner.invoke(app, ["sample", "check", "--as", "mgr", "--draw", out.output.split()[1].rstrip(":"), *db])
    assert out.exit_code == 0 and "the same sample" in out.output, out.output
    assert runner.invoke(app, ["sample", "list", "--as", "zhang", *db]).exit_code == 2
    listed = json.loads(runner.invoke(app, ["sample", "list", "--as", "insp", "--json", *db]).output)
    item = next(i for i in listed["assigned"] if i["flagged"])
    shown = runner.invoke(app, ["sample", "show", str(item["sampled_id"]), "--as", "insp", *db])
    hit_ids = [int(line.split()[1].rstrip(":")) for line in shown.output.splitlines() if line.startswith("hit ")]
    # hits by the rulebook's names (section and wording); ids only with --ids or in --json
    as_json = json.loads(runner.invoke(app, ["sample", "show", str(item["sampled_id"]), "--as", "insp", "--json", *db]).output)
    assert [h["hit_id"] for h in as_json["hits"]] == hit_ids and hit_ids, shown.output
    for h in as_json["hits"]:
        rule = RB.by_id[h["rule_id"]]
        assert h["rule_name"] == f"{rule.section} {rule.canonical}"
        assert f"hit {h['hit_id']}: {h['rule_name']} at line {h['utterance_seq']}" in shown.output and h["rule_id"] not in shown.output
    with_ids = runner.invoke(app, ["sample", "show", str(item["sampled_id"]), "--as", "insp", "--ids", *db]).output
    assert all(f"hit {h['hit_id']}: {h['rule_id']} at line" in with_ids for h in as_json["hits"])
    args = ["sample", "review", str(item["sampled_id"]), "--as", "insp", *db]
    if hit_ids:
        args += ["--wrong", str(hit_ids[0])]
    out = runner.invoke(app, args)
    assert out.exit_code == 0 and "review" in out.output, out.output
    out = runner.invoke(app, ["eval", "field", "--month", MONTH, "--as", "mgr", "--json", *db])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["reviewed"] == 1 and {f["family"] for f in report["families"]} == {f.value for f in RuleFamily if f is not RuleFamily.SITUATION}


def test_circular_has_the_field_appendix(hall):
    with hall() as s, s.begin():
        a = _actors(s)
        assert "附录 质检准确度(抽检)" not in access.monthly_circular(s, a["mgr"], MONTH, RB).sheets
        access.draw_sample(s, a["insp"], _plan(s, a["insp"], per_unit=50).id, MONTH)
        for item in access.assigned_reviews(s, a["insp"]):
            hits = {h.hit_id: True for h in access.sampled_interaction(s, a["insp"], item.sampled_id).hits}
            access.record_review(s, a["insp"], item.sampled_id, hits, [], RB)
        sheet = access.monthly_circular(s, a["mgr"], MONTH, RB).sheets["附录 质检准确度(抽检)"]
        forbidden = next(r for r in sheet if r["类别"] == "服务禁语" and r["规则"] == "(全部)")
        n_forbidden = s.scalar(select(func.count()).select_from(RuleHitRow).join(Interaction)
                               .where(RuleHitRow.family == RuleFamily.FORBIDDEN, Interaction.served.is_(True),
                                      RuleHitRow.rule_id.like("forbidden.%")))  # a citizen's abuse is no staff phrase
        assert forbidden["查准率"].startswith("1.00") and forbidden["复核命中数"] == n_forbidden


def test_dashboard_page_reviews_a_whole_interaction_line_by_line(tmp_path, monkeypatch):
    """The page shows every line with audio from it and hits by rule name; a hit marked wrong and a miss by time span are recorded."""
    streamlit_testing = pytest.importorskip("streamlit.testing.v1")
    from pathlib import Path

    from _dashboard_support import build_hall, set_env
    from models.db import make_engine, make_session_factory

    hall_db = build_hall(tmp_path / "hall")
    set_env(hall_db, monkeypatch)
    sessions = make_session_factory(make_engine(hall_db.url))
    with sessions() as s, s.begin():
        insp = authenticate(s, "insp", PASSWORD)
        draw = access.draw_sample(s, insp, _plan(s, insp, per_unit=50).id, MONTH)
        total = len(_drawn_ids(s, draw.id))
        item = next(i for i in access.assigned_reviews(s, insp)
                    if any(h.family == "forbidden" for h in access.sampled_interaction(s, insp, i.sampled_id).hits))
        hit = next(h for h in access.sampled_interaction(s, insp, item.sampled_id).hits if h.family == "forbidden")
        hit_flag = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.FORBIDDEN, Flag.interaction_id == item.interaction_id))
        lines = access.sampled_interaction(s, insp, item.sampled_id).lines
    at = streamlit_testing.AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.text_input(key="login_user").input("insp")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    at.switch_page("app_pages/sample_review.py")
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert [m.value for m in at.metric][0] == f"0 / {total}"
    at.selectbox(key="sr_item").set_value(item.sampled_id)
    at.run()
    from test_dashboard_labels import problems_on

    assert problems_on(at) == []  # every label, header and code in Chinese
    shown = [h.proto.body for h in at.get("html")]
    assert sum("<code>" in b and "</b>：" in b for b in shown) == len(lines)  # every line of the transcript
    hits = next(d.value for d in at.dataframe if "family" in d.value.columns)
    assert RB.by_id[hit.rule_id].canonical in " ".join(hits["rule"]) and "服务禁语" in set(hits["family"])
    assert any("问候" in t.value or "您好" in t.value for t in at.text)  # the required phrases and whether said
    line = next(n for n, line in enumerate(lines) if line.seq == hit.utterance_seq)
    at.button(key=f"sr_line_{item.interaction_id}_{line}").click()  # ▶ of the hit's line
    at.run()
    audio = [b for b in (h.proto.body for h in at.get("html")) if "<audio" in b]
    assert len(audio) == 1 and "data:audio/flac;base64," in audio[0] and "#t=5.0" in audio[0]
    # a missed forbidden phrase ASR never wrote: a time span between two lines, no line
    gap = next((a.end_s, b.start_s) for a, b in zip(lines, lines[1:]) if b.start_s - a.end_s >= 0.4)
    at.selectbox(key="sr_miss_rule").set_value("forbidden.go_to_leader")
    at.radio(key="sr_miss_where").set_value("span")
    at.number_input(key="sr_miss_start").set_value(gap[0] + 0.1)
    at.number_input(key="sr_miss_end").set_value(gap[1] - 0.1)
    at.text_input(key="sr_miss_note").input("远场未转写：找你们领导去")
    next(b for b in at.button if b.label == "添加漏检").click()
    at.run()
    assert any("找你们领导去" in d.value.to_string() for d in at.dataframe)
    at.radio(key=f"sr_mark_{hit.hit_id}").set_value("wrong")
    next(b for b in at.button if b.label == "提交复核").click()
    at.run()
    assert not at.exception and not at.error and "误报 1，漏检 1，新增确认标记 1" in at.success[0].value, (at.exception, at.error)
    with sessions() as s:
        assert access.review_progress(s, authenticate(s, "insp", PASSWORD))[0].reviewed == 1
        assert s.get(Flag, hit_flag).status is FlagStatus.DISMISSED  # the wrong hit's flag, dismissed and its points back
        missed = s.scalar(select(Flag).where(Flag.dedupe_key.like("sample_miss:%")))
        assert missed.status is FlagStatus.CONFIRMED and missed.utterance_id is None and missed.evidence["start_s"] == pytest.approx(gap[0] + 0.1)
        logged = s.scalar(select(AuditLog).where(AuditLog.action == "sample_review"))
        assert logged.detail["wrong_hits"] == [hit.hit_id] and logged.detail["flags"] == [missed.id]
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "interaction.play", AuditLog.entity_id == item.interaction_id))
    _define_a_plan_on_the_page(at, sessions)


def _define_a_plan_on_the_page(at, sessions):
    """A new plan defined on the sample review page is stored, audited and offered for a draw."""
    at.text_input(key="sr_plan_name").input("窗口周抽检")
    at.radio(key="sr_plan_unit").set_value("window")
    at.radio(key="sr_plan_period").set_value("week")
    at.number_input(key="sr_plan_per_unit").set_value(3)
    at.slider(key="sr_plan_flagged").set_value(30)
    at.number_input(key="sr_plan_seed").set_value(11)
    next(b for b in at.button if b.label == "建立方案").click()
    at.run()
    assert not at.exception and not at.error and "已建立抽检方案" in at.success[0].value, (at.exception, at.error)
    with sessions() as s:
        plan = s.scalar(select(SamplingPlanRow).where(SamplingPlanRow.name == "窗口周抽检"))
        assert (plan.unit, plan.period_kind, plan.per_unit, plan.flagged_share, plan.seed, plan.created_by) == ("window", "week", 3, 0.3, 11, "insp")
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "sample_plan_add", AuditLog.entity_id == plan.id))
    assert f"#{plan.id} 窗口周抽检（每个窗口每周 3 通）" in at.selectbox(key="sr_draw_plan").options


def test_staff_see_neither_others_sampled_reviews_nor_others_lines_in_search(hall):
    from scoring.access.search import SearchFilters, search_transcripts
    from scoring.access.training import reviewed_utterances

    with hall() as s, s.begin():
        a = _actors(s)
        draw = access.draw_sample(s, a["insp"], _plan(s, a["insp"], per_unit=50).id, MONTH)
        # a review of one of 李's interactions raises a flag with the inspector's comment
        item, view = next((i, v) for i in access.assigned_reviews(s, a["insp"]) if i.staff_no == "1002"
                          for v in [access.sampled_interaction(s, a["insp"], i.sampled_id)] if any(x.role == Role.STAFF.value for x in v.lines))
        line = next(x for x in view.lines if x.role == Role.STAFF.value)
        result = access.record_review(s, a["insp"], item.sampled_id, {h.hit_id: True for h in view.hits},
                                      [access.MissSpec("forbidden.go_to_leader", "said", utterance_seq=line.seq, note="复听")], RB, comment="李的复核")
        li_flag = result.flag_ids[0]
        zhang = a["zhang"]
        assert access.flag_detail(s, a["li"], li_flag).reviews  # 李 sees the review on her own flag
        with pytest.raises(access.NotFound):  # same answer as no such flag
            access.flag_detail(s, zhang, li_flag)
        with pytest.raises(access.NotFound):
            access.file_appeal(s, zhang, li_flag, "不是我")
        _, rows = access.flag_queue(s, zhang, access.FlagFilter(statuses=()))
        assert rows and li_flag not in {r.id for r in rows} and {r.staff_no for r in rows} == {"1001"}
        assert {r.staff_no for r in access.staff_flagged_utterances(s, zhang, rulebook=RB)} == {"1001"}
        for call in (lambda: access.check_draw(s, zhang, draw.id), lambda: reviewed_utterances(s, zhang),
                     lambda: access.labelled_examples(s, zhang)):
            with pytest.raises(access.AccessDenied):
                call()
        # search: 李's reviewed line is not found by 张, with or without filters; his own lines are
        words = line.text.strip("，。？！ ")[:4]
        assert any(h.utterance_id == s.get(Flag, li_flag).utterance_id for h in search_transcripts(s, a["insp"], words))
        for filters in (SearchFilters(), SearchFilters(rule="forbidden"), SearchFilters(window=item.window), SearchFilters(date_from=item.started_at.date())):
            found = search_transcripts(s, zhang, words, filters)
            assert {h.staff_no for h in found} <= {"1001"} and all(h.flag_id is None or s.get(Flag, h.flag_id).staff_id == zhang.staff_id for h in found)
        own_hit = s.scalar(select(Utterance.text).join(RuleHitRow, RuleHitRow.utterance_id == Utterance.id).join(Interaction)
                           .where(RuleHitRow.rule_id.like("forbidden.%"), Interaction.staff_id == zhang.staff_id).limit(1))
        own = search_transcripts(s, zhang, own_hit.strip("，。？！ ")[:4], SearchFilters(rule="forbidden"))
        assert own and {h.staff_no for h in own} == {"1001"}
        with pytest.raises(access.AccessDenied):
            search_transcripts(s, zhang, words, SearchFilters(staff_no="1002"))


def test_a_refused_draw_reads_in_chinese(hall):
    from dashboard.labels import draw_error

    with hall() as s, s.begin():
        a = _actors(s)
        plan = _plan(s, a["insp"])
        access.draw_sample(s, a["insp"], plan.id, MONTH)
        refusals = []
        for period in (MONTH, "2026-W10", "三月"):
            with pytest.raises(ValueError) as refused:
                access.draw_sample(s, a["insp"], plan.id, period)
            refusals.append(draw_error(str(refused.value)))
        with pytest.raises(access.NotFound) as missing:
            access.draw_sample(s, a["insp"], 9999, MONTH)
        refusals.append(draw_error(str(missing.value)))
    assert refusals == [f"方案 #{plan.id} 已抽取过 {MONTH}", f"方案 #{plan.id} 按月抽检，「2026-W10」不是一个月",
                        "抽检周期「三月」格式不对：应为 年-月（如 2026-03）或 年-W周（如 2026-W10）", "没有抽检方案 #9999（或已停用）"]
