"""Storing scored recordings in real SQLite and PostgreSQL: rows, staff attribution, flags, re-scoring."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from _store_support import add_site, any_factory, db_url, factory, pg_url, rulebook, sqlite_url, store_fixture  # noqa: F401
from models.db import Flag, FlagKind, Interaction, RecordingStatus, Review, ReviewDecision, ReviewKind, RuleHitRow, Substitution, Utterance

DAY = datetime(2026, 3, 2)
START = datetime(2026, 3, 2, 9, 0, 0)


def test_recording_is_stored_with_interactions_hits_and_flags(any_factory, rulebook):
    with any_factory() as s, s.begin():
        site = add_site(s, day=DAY)
        recording, stored = store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    with any_factory() as s:
        assert s.get(type(recording), recording.id).status is RecordingStatus.DONE
        assert s.scalar(select(func.count()).select_from(Utterance)) == 34
        interactions = s.scalars(select(Interaction).order_by(Interaction.seq)).all()
        assert [i.score for i in interactions] == [100.0, 100.0, 60.0, 87.0, 100.0, 90.0, 100.0]
        # without queue data the last two citizens are split at the greeting, with no wait known
        assert interactions[6].split_reason == "end" and interactions[5].split_reason == "greeting"
        assert interactions[0].started_at == START and interactions[0].ended_at == datetime(2026, 3, 2, 9, 1, 3)
        assert all(i.staff_id == site["zhang"].id for i in interactions)
        assert all(len(i.explanation) >= 3 and i.rulebook_version == rulebook.version for i in interactions)
        hits = s.scalars(select(RuleHitRow)).all()
        assert len(hits) == 16 and all(h.interaction_id is not None for h in hits)
        kinds = sorted(f.kind.value for f in s.scalars(select(Flag)))
        # the fourth citizen waited 33 s without 请稍等: that deduction is a flag of its own (situational)
        assert kinds == ["citizen_abuse", "forbidden", "missing_courtesy", "missing_courtesy", "missing_courtesy", "situational"]
        abuse = s.scalar(select(Flag).where(Flag.kind == FlagKind.CITIZEN_ABUSE))
        assert abuse.penalised is False and abuse.evidence["text"] == "你算什么东西，快点！"
        forbidden = s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN))
        assert forbidden.evidence["start_s"] == 143.5 and forbidden.evidence["rule_id"] == "forbidden.already_told"
        assert forbidden.staff_id == site["zhang"].id
        # citizens' utterances carry no staff; staff utterances carry whoever was on duty
        roles = {u.role.value: u.staff_id for u in s.scalars(select(Utterance))}
        assert roles["citizen"] is None and roles["staff"] == site["zhang"].id


def test_substitute_on_duty_gets_the_utterances(factory, rulebook):
    with factory() as s, s.begin():
        site = add_site(s, day=DAY)
        s.add(
            Substitution(
                window_id=site["A03"].id,
                substitute_id=site["li"].id,
                replaced_id=site["zhang"].id,
                starts_at=datetime(2026, 3, 2, 9, 3),
                ends_at=datetime(2026, 3, 2, 12, 0),
                reason="张敏 病假",
            )
        )
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    with factory() as s:
        staff = [i.staff_id for i in s.scalars(select(Interaction).order_by(Interaction.seq))]
        # interactions starting before 09:03 belong to 张敏, later ones to her substitute 李强
        assert staff == [site["zhang"].id] * 3 + [site["li"].id] * 4


def test_nobody_on_duty_leaves_staff_empty(factory, rulebook):
    with factory() as s, s.begin():
        site = add_site(s, day=DAY)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=datetime(2026, 3, 2, 12, 10))
    with factory() as s:
        assert {i.staff_id for i in s.scalars(select(Interaction))} == {None}


def test_rescore_after_queue_import_keeps_flags_and_links(factory, rulebook, tmp_path):
    from scoring.store.queue import import_queue

    with factory() as s, s.begin():
        site = add_site(s, day=DAY)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    with factory() as s:
        flag_ids = set(s.scalars(select(Flag.id).where(Flag.kind != FlagKind.MISSING_COURTESY)))
    queue = tmp_path / "calls.csv"
    queue.write_text(
        "叫号时间,窗口,票号,取号时间\n"
        "2026-03-02 09:06:55,A03,A012,2026-03-02 09:01:55\n"
        "2026-03-02 09:07:13,A03,A013,2026-03-02 08:42:13\n",
        encoding="utf-8",
    )
    with factory() as s, s.begin():
        report = import_queue(s, queue, rulebook)
        assert report.imported == 2 and report.rescored_recordings == 1
    with factory() as s:
        interactions = s.scalars(select(Interaction).order_by(Interaction.seq)).all()
        assert [i.ticket_no for i in interactions][-2:] == ["A012", "A013"]
        assert interactions[5].split_reason == "queue_call"
        assert interactions[6].score == 95.0  # 25 minutes' wait without 让您久等了
        assert flag_ids <= set(s.scalars(select(Flag.id)))
        assert all(f.interaction_id is not None for f in s.scalars(select(Flag)))
        before = [(i.id, i.score) for i in interactions]
    with factory() as s, s.begin():
        again = import_queue(s, queue, rulebook)
        assert again.imported == 0 and again.unchanged == 2 and again.rescored_recordings == 0
    with factory() as s:
        assert [(i.id, i.score) for i in s.scalars(select(Interaction).order_by(Interaction.seq))] == before


def test_the_window_camera_overrides_the_roster(factory, rulebook):
    from models.attendance_db import PresenceSampleRow

    with factory() as s, s.begin():
        site = add_site(s, day=DAY)
        # 张敏 is rostered; the camera saw her at 09:00 and 李强 at 09:06 (a swap nobody filed)
        s.add_all(
            [
                PresenceSampleRow(window_id=site["A03"].id, at=datetime(2026, 3, 2, 9, 0), staff_nos=["1001"]),
                PresenceSampleRow(window_id=site["A03"].id, at=datetime(2026, 3, 2, 9, 6), staff_nos=["1002"]),
                PresenceSampleRow(window_id=site["B01"].id, at=datetime(2026, 3, 2, 9, 3), staff_nos=["1003"]),
            ]
        )
        s.flush()
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    with factory() as s:
        staff = [i.staff_id for i in s.scalars(select(Interaction).order_by(Interaction.seq))]
        # the nearest sample decides: interactions from 09:03:40 on are nearer the 09:06 sample
        assert staff == [site["zhang"].id] * 3 + [site["li"].id] * 4


def test_camera_samples_too_far_away_do_not_count(factory, rulebook):
    from models.attendance_db import PresenceSampleRow

    with factory() as s, s.begin():
        site = add_site(s, day=DAY)
        # more than [post].max_absence_minutes before the recording: the roster decides
        s.add(PresenceSampleRow(window_id=site["A03"].id, at=datetime(2026, 3, 2, 8, 40), staff_nos=["1002"]))
        s.flush()
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
    with factory() as s:
        assert {i.staff_id for i in s.scalars(select(Interaction))} == {site["zhang"].id}


def test_points_restored_by_a_dismissal_survive_a_queue_import(any_factory, rulebook, tmp_path):
    # Re-scoring rebuilds interactions; the review that gave the points back must follow its flag.
    from scoring import access
    from scoring.accounts import authenticate, create_account
    from scoring.reports import ReportOptions, rollup
    from scoring.store.queue import import_queue

    def staff_month(s):
        (row,) = rollup(s, ReportOptions.for_rulebook("staff", "month", DAY.date().replace(day=1), DAY.date().replace(month=4, day=1), rulebook)).as_dicts()
        return row

    with any_factory() as s, s.begin():
        site = add_site(s, day=DAY)
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=site["A03"], start=START)
        create_account(s, "insp", "long-enough-1", "inspector", rounds=4)
    with any_factory() as s, s.begin():
        before = staff_month(s)
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN))
        access.decide_flag(s, authenticate(s, "insp", "long-enough-1"), flag.id, "dismiss", reason="说的是流程，不是推诿")
        # and an adjustment of no flag (an appeal about the whole first interaction)
        first = s.scalar(select(Interaction).where(Interaction.seq == 0))
        s.add(Review(kind=ReviewKind.APPEAL, interaction_id=first.id, decision=ReviewDecision.ADJUST, score_adjustment=5.0, comment="申诉成立"))
    with any_factory() as s:
        restored = s.scalar(select(func.sum(Review.score_adjustment)).where(Review.decision == ReviewDecision.ADJUST))
        assert restored == 20.0 + 5.0  # what forbidden.already_told cost, and the appeal
        dismissed = staff_month(s)
        assert dismissed["avg_score"] == pytest.approx(before["avg_score"] + restored / dismissed["interactions"], abs=0.06)
    queue = tmp_path / "calls.csv"
    queue.write_text("叫号时间,窗口,票号,取号时间\n2026-03-02 09:06:55,A03,A012,2026-03-02 09:01:55\n", encoding="utf-8")
    with any_factory() as s, s.begin():
        assert import_queue(s, queue, rulebook).rescored_recordings == 1
    with any_factory() as s:
        after = staff_month(s)
        raw = s.scalars(select(Interaction.score).where(Interaction.served.is_(True))).all()
        assert after["interactions"] == len(raw)
        assert after["avg_score"] == pytest.approx((sum(raw) + restored) / len(raw), abs=0.06)
        flag = s.get(Flag, flag.id)
        adjust = s.scalar(select(Review).where(Review.flag_id == flag.id, Review.decision == ReviewDecision.ADJUST))
        assert flag.interaction_id is not None and adjust.interaction_id == flag.interaction_id
        appeal = s.scalar(select(Review).where(Review.flag_id.is_(None)))
        assert appeal.interaction_id == s.scalar(select(Interaction.id).where(Interaction.seq == 0))
