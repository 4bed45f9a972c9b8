"""Every lost point is a flag: staff see it, inspectors review it, staff appeal it, and the effective score follows.

Real SQLite and PostgreSQL stores (the dashboard tests' small hall, built through the store and
scoring functions); queue calls are stored rows, rebuilds go through ``rescore_recording`` as
``windowqa store rescore`` and a queue import do.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from _dashboard_support import PASSWORD, populate, staff_id
from _store_support import any_factory, db_url, pg_url, sqlite_url  # noqa: F401
from models.db import Flag, FlagKind, FlagStatus, Interaction, QueueCall, Recording, Review, ReviewDecision, Window
from models.rulebook import load_rulebook
from scoring import access
from scoring.access.reviews import score_restore
from scoring.accounts import authenticate
from scoring.effective import effective_score, score_adjustments
from scoring.score import SORRY_FOR_WAIT, STRENGTH_CAP_REASON
from scoring.store import rescore_recording

RB = load_rulebook()
MONTH = "2026-03"


@pytest.fixture
def hall(any_factory, tmp_path):
    populate(any_factory, tmp_path / "archive", rounds=4)
    return any_factory


def _effective(s, interaction_id: int) -> float:
    adj = score_adjustments()
    return s.scalar(select(effective_score(adj)).outerjoin(adj, adj.c.interaction_id == Interaction.id).where(Interaction.id == interaction_id))


def _lost(interaction: Interaction) -> float:
    # the points lost to deductions (the cap on strengths above the base is none)
    return -sum(min(0.0, float(line.get("points") or 0.0)) for line in interaction.explanation or []
                if not str(line.get("reason", "")).startswith(STRENGTH_CAP_REASON))


def _flags_cover_every_lost_point(s) -> None:
    for interaction in s.scalars(select(Interaction)):
        flags = s.scalars(select(Flag).where(Flag.interaction_id == interaction.id, Flag.penalised.is_(True), Flag.recording_id.is_not(None)))
        assert sum(score_restore(s, f) for f in flags) == pytest.approx(_lost(interaction)), interaction.explanation


def test_every_deduction_has_a_flag_that_gives_exactly_its_points_back(hall):
    with hall() as s:
        situational = s.scalars(select(Flag).where(Flag.kind == FlagKind.SITUATIONAL)).all()
        assert situational and {f.evidence["rule_id"] for f in situational} == {"courtesy.please_wait"}
        assert all(f.penalised and f.status is FlagStatus.OPEN and f.staff_id is not None for f in situational)
        _flags_cover_every_lost_point(s)


def _a03_morning(s) -> Recording:
    a03 = s.scalar(select(Window.id).where(Window.code == "A03"))
    return s.scalar(select(Recording).where(Recording.window_id == a03).order_by(Recording.started_at))


def test_a_long_wait_raises_a_flag_once_and_a_rebuild_without_it_removes_it(hall):
    with hall() as s, s.begin():
        recording = _a03_morning(s)
        before = s.scalar(select(func.count(Flag.id)))
        # the first citizen took a ticket at 08:25 and was called at 09:00: 35 minutes (>= long_wait_minutes)
        s.add(QueueCall(window_id=recording.window_id, ticket_no="A001", called_at=datetime(2026, 3, 2, 9, 0), issued_at=datetime(2026, 3, 2, 8, 25)))
        s.flush()
        for _ in range(3):  # a rebuild, and the same rebuild again: one flag
            rescore_recording(s, recording, RB)
        waits = s.scalars(select(Flag).where(Flag.kind == FlagKind.SITUATIONAL, Flag.dedupe_key.like(f"%:{SORRY_FOR_WAIT}"))).all()
        assert len(waits) == 1 and s.scalar(select(func.count(Flag.id))) == before + 1
        wait = waits[0]
        assert wait.evidence["line_seq"] is None and wait.evidence["points"] == RB.by_id[SORRY_FOR_WAIT].weight
        first = s.get(Interaction, wait.interaction_id)
        assert first.recording_id == recording.id and first.start_s == 0.0
        assert score_restore(s, wait) == RB.by_id[SORRY_FOR_WAIT].weight
        _flags_cover_every_lost_point(s)
        # the queue data is corrected: the wait goes, and so does its open, unreviewed flag
        s.execute(QueueCall.__table__.update().values(issued_at=datetime(2026, 3, 2, 8, 55)))  # 5 minutes
        rescore_recording(s, recording, RB)
        assert s.get(Flag, wait.id) is None and s.scalar(select(func.count(Flag.id))) == before


def test_staff_see_appeal_and_win_back_a_situational_deduction_and_see_their_mismatch_flags(hall):
    with hall() as s, s.begin():
        zhang, insp = authenticate(s, "zhang", PASSWORD), authenticate(s, "insp", PASSWORD)
        mine = access.staff_flagged_utterances(s, zhang, rulebook=RB)
        kinds = {r.kind for r in mine}
        assert {"situational", "staff_mismatch", "forbidden", "missing_courtesy"} <= kinds
        silence = next(r for r in mine if r.kind == "situational")
        assert silence.rule_id == "courtesy.please_wait" and "请稍等" in silence.instead and silence.text
        assert s.get(Flag, silence.id).staff_id == staff_id(s, "1001")
        # another staff member's deduction is not listed, nor can it be opened
        li_silence = s.scalar(select(Flag.id).where(Flag.kind == FlagKind.SITUATIONAL, Flag.staff_id == staff_id(s, "1002")))
        assert li_silence not in {r.id for r in mine}
        with pytest.raises(access.NotFound):
            access.flag_detail(s, zhang, li_silence)
        assert access.flag_detail(s, zhang, silence.id).can_appeal
        interaction = silence.interaction_id
        score = _effective(s, interaction)
        access.file_appeal(s, zhang, silence.id, "当时在电话里向群众说明了")
        appeal = next(a for a in access.appeals(s, insp, pending_only=True) if a.flag_id == silence.id)
        access.rule_on_appeal(s, insp, appeal.appeal_id, uphold_flag=False, ruling="录音核实已告知")
        assert s.get(Flag, silence.id).status is FlagStatus.DISMISSED
        assert _effective(s, interaction) == pytest.approx(score + 3.0)  # courtesy.please_wait weighs 3
        mismatch = next(r for r in mine if r.kind == "staff_mismatch")
        # the 工号 the terminal showed is the evidence; the colleague's name is not hers to read
        assert "1002" in mismatch.summary and "李强" not in mismatch.summary
        assert "李强" not in (access.flag_detail(s, zhang, mismatch.id).flag.summary or "")
        assert "李强" in access.flag_detail(s, insp, mismatch.id).flag.summary
        assert access.file_appeal(s, zhang, mismatch.id, "评价器上是同事登录的工号").id


def test_review_flags_take_their_points_and_keep_them_through_a_rebuild(hall):
    with hall() as s, s.begin():
        a = {u: authenticate(s, u, PASSWORD) for u in ("insp", "zhang", "li", "mgr")}
        plan = access.create_plan(s, a["insp"], access.PlanSpec("三月", per_unit=50, seed=1, window_codes=("A03",)))
        access.draw_sample(s, a["insp"], plan.id, MONTH)
        items = access.assigned_reviews(s, a["insp"])
        # an interaction with a forbidden hit: marked wrong, its flag is dismissed and the points come back
        flagged = next(i for i in items if any(h.family == "forbidden" for h in access.sampled_interaction(s, a["insp"], i.sampled_id).hits))
        view = access.sampled_interaction(s, a["insp"], flagged.sampled_id)
        forbidden_hit = next(h for h in view.hits if h.family == "forbidden")
        hit_flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.interaction_id == flagged.interaction_id))
        before = _effective(s, flagged.interaction_id)
        access.record_review(s, a["insp"], flagged.sampled_id, {h.hit_id: h.hit_id != forbidden_hit.hit_id for h in view.hits}, [], RB)
        assert hit_flag.status is FlagStatus.DISMISSED and _effective(s, flagged.interaction_id) == pytest.approx(before + 20.0)
        # a missed forbidden phrase (ASR never wrote it: a time span, no line) takes its points at once
        other = next(i for i in items if i.sampled_id != flagged.sampled_id and not i.reviewed and i.interaction_id)
        interaction = s.get(Interaction, other.interaction_id)
        lines = sorted(interaction.utterances, key=lambda u: u.start_s)
        gap = next((a.end_s, b.start_s) for a, b in zip(lines, lines[1:]) if b.start_s - a.end_s >= 0.4)
        span = access.MissSpec("forbidden.go_to_leader", "said", start_s=gap[0] + 0.1, end_s=gap[1] - 0.1, note="远场")
        marks = {h.hit_id: True for h in access.sampled_interaction(s, a["insp"], other.sampled_id).hits}
        result = access.record_review(s, a["insp"], other.sampled_id, marks, [span], RB)
        assert len(result.flag_ids) == 1
        missed = s.get(Flag, result.flag_ids[0])
        assert missed.utterance_id is None and missed.evidence["start_s"] == span.start_s
        score = _effective(s, interaction.id)
        assert score == pytest.approx(max(0.0, interaction.score - 20.0 + sum(
            r.score_adjustment for r in s.scalars(select(Review).where(Review.interaction_id == interaction.id, Review.flag_id != missed.id)))))
        # a rebuild keeps the flag on its interaction and its points taken
        rescore_recording(s, s.get(Recording, interaction.recording_id), RB)
        s.expire_all()
        rebuilt = s.get(Flag, missed.id).interaction_id
        assert rebuilt is not None and _effective(s, rebuilt) == pytest.approx(score)
        # the staff member appeals; the appeal succeeds and the points come back, once
        owner = "zhang" if missed.staff_id == staff_id(s, "1001") else "li"
        assert missed.id in {r.id for r in access.staff_flagged_utterances(s, a[owner], rulebook=RB)}
        access.file_appeal(s, a[owner], missed.id, "说的是请稍等")
        appeal = next(x for x in access.appeals(s, a["insp"], pending_only=True) if x.flag_id == missed.id)
        access.rule_on_appeal(s, a["insp"], appeal.appeal_id, uphold_flag=False, ruling="录音核实")
        assert _effective(s, rebuilt) == pytest.approx(score + 20.0)
        # confirmed again (a later decision): the points are taken again, not twice
        access.decide_flag(s, a["insp"], missed.id, "confirm", reason="复听确认")
        assert _effective(s, rebuilt) == pytest.approx(score)
        adjustments = s.scalars(select(Review.score_adjustment).where(Review.flag_id == missed.id, Review.decision == ReviewDecision.ADJUST)).all()
        assert sorted(adjustments) == [-20.0, -20.0, 20.0]


def test_a_required_phrase_really_missing_costs_its_points_as_a_flag_staff_appeal_and_rebuilds_keep_once(hall):
    greet = RB.by_id["courtesy.greet"]
    points = greet.weight * RB.scoring.missing_required_penalty
    with hall() as s, s.begin():
        a = {u: authenticate(s, u, PASSWORD) for u in ("insp", "zhang", "li")}
        plan = access.create_plan(s, a["insp"], access.PlanSpec("三月", per_unit=50, seed=2))
        access.draw_sample(s, a["insp"], plan.id, MONTH)

        def greeted(i):  # the system heard the greeting: saying it is missing is a miss of the system
            lines = s.get(Interaction, i.interaction_id).explanation or []
            return any(line.get("rule_id") == greet.id and not line.get("points") and " said: " in line.get("reason", "") for line in lines)

        items = [i for i in access.assigned_reviews(s, a["insp"]) if i.interaction_id and s.get(Interaction, i.interaction_id).served]
        item = next(i for i in items if greeted(i))
        interaction = s.get(Interaction, item.interaction_id)
        before = _effective(s, interaction.id)
        marks = {h.hit_id: True for h in access.sampled_interaction(s, a["insp"], item.sampled_id).hits}
        result = access.record_review(s, a["insp"], item.sampled_id, marks, [access.MissSpec(greet.id, "missing", note="远场，未说您好")], RB)
        assert len(result.flag_ids) == 1
        flag = s.get(Flag, result.flag_ids[0])
        assert flag.kind is FlagKind.MISSING_COURTESY and flag.status is FlagStatus.CONFIRMED and flag.penalised
        assert flag.interaction_id == interaction.id and flag.staff_id == interaction.staff_id and flag.evidence["rule_id"] == greet.id
        assert score_restore(s, flag) == pytest.approx(points)
        score = _effective(s, interaction.id)
        assert score == pytest.approx(max(0.0, before - points))
        # where the system itself found the greeting missing, the review agrees: no second deduction
        other = next(i for i in items if not greeted(i) and i.sampled_id != item.sampled_id)
        marks = {h.hit_id: True for h in access.sampled_interaction(s, a["insp"], other.sampled_id).hits}
        assert access.record_review(s, a["insp"], other.sampled_id, marks, [access.MissSpec(greet.id, "missing")], RB).flag_ids == ()
        # rebuilt twice: still one such flag, on the rebuilt interaction, its points taken once
        for _ in range(2):
            rescore_recording(s, s.get(Recording, interaction.recording_id), RB)
        s.expire_all()
        rebuilt = s.get(Flag, flag.id).interaction_id
        assert rebuilt is not None and _effective(s, rebuilt) == pytest.approx(score)
        assert s.scalar(select(func.count()).select_from(Flag).where(Flag.kind == FlagKind.MISSING_COURTESY, Flag.interaction_id == rebuilt,
                                                                      Flag.evidence["source"].as_string() == "sample_review")) == 1
        # the staff member sees it among their flags and appeals; upheld for the staff member, the points come back
        owner = "zhang" if flag.staff_id == staff_id(s, "1001") else "li"
        assert flag.id in {r.id for r in access.staff_flagged_utterances(s, a[owner], rulebook=RB)}
        access.file_appeal(s, a[owner], flag.id, "我说了您好")
        appeal = next(x for x in access.appeals(s, a["insp"], pending_only=True) if x.flag_id == flag.id)
        access.rule_on_appeal(s, a["insp"], appeal.appeal_id, uphold_flag=False, ruling="录音核实")
        assert _effective(s, rebuilt) == pytest.approx(score + points)
