"""Segmentation and scoring on a recorded-style window transcript (no database)."""

from __future__ import annotations

from datetime import datetime, timedelta

from _store_support import load_transcript, rulebook  # noqa: F401  (fixture)
from models.domain import Role
from scoring.score import score_interaction
from scoring.segment import QueueCallEvent, SegmentOptions, segment_utterances

START = datetime(2026, 3, 2, 9, 0, 0)


def _timed(items):
    from dataclasses import replace

    from scoring.segment import MatchedUtterance

    return [MatchedUtterance(i.seq, replace(i.utterance, started_at=START + timedelta(seconds=i.utterance.start_s)), i.hits, i.abuse) for i in items]


def _calls():
    return [
        QueueCallEvent(START + timedelta(seconds=415), "A012", START + timedelta(seconds=115)),
        QueueCallEvent(START + timedelta(seconds=433), "A013", START + timedelta(seconds=433) - timedelta(minutes=25)),
    ]


def test_segments_follow_farewell_silence_and_queue_calls(rulebook):
    items = _timed(load_transcript("window-a03-morning.jsonl", rulebook))
    segs = segment_utterances(items, _calls(), SegmentOptions.from_rulebook(rulebook))
    assert [s.split_reason for s in segs] == ["farewell", "farewell", "silence", "silence", "silence", "queue_call", "end"]
    assert [len(s.items) for s in segs] == [9, 5, 4, 6, 2, 4, 4]
    # the citizen's 再见 right after the farewell belongs to the first interaction
    assert segs[0].items[-1].utterance.text == "再见。"
    assert [s.queue_call.ticket_no if s.queue_call else None for s in segs] == [None, None, None, None, None, "A012", "A013"]
    assert [s.served for s in segs] == [True, True, True, True, False, True, True]


def test_without_queue_data_a_greeting_after_the_citizen_spoke_starts_a_new_interaction(rulebook):
    items = _timed(load_transcript("window-a03-morning.jsonl", rulebook))
    segs = segment_utterances(items, [], SegmentOptions.from_rulebook(rulebook))
    assert segs[5].split_reason == "greeting"
    assert segs[6].items[0].utterance.text.startswith("您好，请问您要办理")


def test_scores_are_explained_line_by_line(rulebook):
    items = _timed(load_transcript("window-a03-morning.jsonl", rulebook))
    segs = segment_utterances(items, _calls(), SegmentOptions.from_rulebook(rulebook))
    scores = [score_interaction(s, rulebook, wait_minutes=s.queue_call.wait_minutes if s.queue_call else None) for s in segs]
    assert [s.score for s in scores] == [100.0, 100.0, 60.0, 87.0, 100.0, 90.0, 95.0]
    for s in scores:
        # every score is the sum of its explanation lines
        assert s.score == max(0.0, sum(line.points for line in s.lines))
        assert s.rulebook_version == rulebook.version
    forbidden = scores[2]
    assert [l.rule_id for l in forbidden.lines if l.points < 0] == ["courtesy.greet", "courtesy.farewell", "forbidden.already_told"]
    assert "forbidden phrase by staff" in forbidden.explain()
    abused = scores[3]
    assert abused.abuse and all(l.points == 0 for l in abused.lines if "citizen abuse" in l.reason)
    assert [l.rule_id for l in abused.lines if l.points < 0] == ["courtesy.farewell", "courtesy.please_wait"]
    assert [l.rule_id for l in scores[6].lines if l.points < 0] == ["courtesy.sorry_for_wait"]
    assert not scores[4].served and scores[4].score == 100.0


def test_citizen_hits_never_count_for_or_against_staff(rulebook):
    items = load_transcript("window-a03-morning.jsonl", rulebook)
    from dataclasses import replace

    # the same forbidden words said by the citizen: no deduction
    flipped = [
        i if i.seq != 15 else type(i)(i.seq, replace(i.utterance, role=Role.CITIZEN), i.hits, i.abuse) for i in items
    ]
    segs = segment_utterances(flipped, [], SegmentOptions.from_rulebook(rulebook))
    score = score_interaction(segs[2], rulebook)
    assert not score.forbidden
    assert all(l.rule_id != "forbidden.already_told" for l in score.lines)


def test_long_wait_answered_with_sorry_for_wait_costs_nothing(rulebook):
    items = _timed(load_transcript("window-a03-morning.jsonl", rulebook))
    segs = segment_utterances(items, _calls(), SegmentOptions.from_rulebook(rulebook))
    last = segs[6]
    from dataclasses import replace

    from models.domain import MatchMethod, RuleHit

    sorry = RuleHit("courtesy.sorry_for_wait", rulebook.rule("courtesy.sorry_for_wait").family, 1.0, 0, 4, MatchMethod.EXACT, rulebook.version)
    last.items[0] = replace(last.items[0], hits=(*last.items[0].hits, sorry))
    assert score_interaction(last, rulebook, wait_minutes=25).score == 100.0
    assert score_interaction(last, rulebook, wait_minutes=5).score == 100.0


def test_a_telephone_call_while_serving_stays_in_the_interaction(rulebook):
    """二.4: a call while a citizen is being served is part of how that citizen was served (issue 15)."""
    from models.domain import MatchMethod, RuleFamily, RuleHit, Utterance
    from scoring.segment import MatchedUtterance

    def hit(rule_id):
        return RuleHit(rule_id, RuleFamily(rule_id.split(".")[0]), 1.0, 0, 2, MatchMethod.EXACT, rulebook.version)

    lines = [
        (Utterance("您好，您需要办理什么业务", Role.STAFF, 0, 2), [hit("courtesy.greet")]),
        (Utterance("我来办社保转移", Role.CITIZEN, 3, 5), []),
        (Utterance("好的，请稍等", Role.STAFF, 6, 7), [hit("courtesy.please_wait")]),
        # no farewell, and only 20 s later the phone rings
        (Utterance("您好，这里是社保窗口，请问有什么可以帮您", Role.STAFF, 27, 30), [hit("phone.greet")]),
        (Utterance("请稍等，我马上转告", Role.STAFF, 40, 42), [hit("phone.take_message")]),
    ]
    items = _timed([MatchedUtterance(k, u, tuple(h)) for k, (u, h) in enumerate(lines)])
    segs = segment_utterances(items, [], SegmentOptions.from_rulebook(rulebook))
    assert [s.split_reason for s in segs] == ["end"]
    assert [len(s.items) for s in segs] == [5]
    # the same call with nobody at the counter is a telephone interaction of its own
    segs = segment_utterances([items[2], *items[3:]], [], SegmentOptions.from_rulebook(rulebook))
    assert [s.split_reason for s in segs] == ["phone_call", "end"]
    assert [len(s.items) for s in segs] == [1, 2]
    # staff greeted someone at the counter: the call is made while serving, also when every line of the
    # citizen's was lost to noise
    segs = segment_utterances([items[0], items[2], *items[3:]], [], SegmentOptions.from_rulebook(rulebook))
    assert [len(s.items) for s in segs] == [4]
