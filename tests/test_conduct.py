"""Conduct checks of issue 15 on a recorded transcript: telephone situations (七.2), calls while
serving (二.4), staff retorts (二.7); the stored flags, their review and the staff member's view.

``window-b05-conduct.jsonl`` is one window's morning: interactions 1-10 as commented in
``tests/data/transcripts/`` (its lines are annotated with the hits the matcher gives them; one
test checks that the real matcher agrees).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from _store_support import add_site, factory, load_transcript, rulebook, sqlite_url, store_fixture  # noqa: F401  (fixtures)
from models.db import Flag, FlagKind, Interaction, Utterance
from scoring.conduct import call_purpose, find_calls, find_cue
from scoring.score import score_interaction
from scoring.situations import find_situations
from scoring.segment import MatchedUtterance, QueueCallEvent, SegmentOptions, segment_utterances

NAME = "window-b05-conduct.jsonl"
START = datetime(2026, 3, 2, 9, 0, 0)


def _segments(book, name=NAME):
    items = [MatchedUtterance(i.seq, replace(i.utterance, started_at=START + timedelta(seconds=i.utterance.start_s)), i.hits, i.abuse)
             for i in load_transcript(name, book)]
    return segment_utterances(items, [], SegmentOptions.from_rulebook(book))


def _found(score):
    return [(f.kind, f.rule_id, f.flagged) for f in score.findings]


def test_calls_while_serving_stay_in_the_interaction(rulebook):
    segs = _segments(rulebook)
    assert [len(s.items) for s in segs] == [8, 8, 9, 3, 2, 2, 2, 5, 6, 7]
    assert [s.served for s in segs] == [True, True, True, False, False, False, False, True, True, True]
    calls = [[(len(c.items), c.outgoing, c.during_service) for c in find_calls(s.items, rulebook)] for s in segs]
    # (the call of 3 runs on to staff's next line: only the citizen speaking again or a silence ends a call)
    assert calls[:7] == [[(2, False, True)], [(2, False, True)], [(3, False, True)], [(3, False, False)], [(2, False, False)],
                         [(2, False, False)], [(2, True, False)]]
    assert calls[9] == [(2, True, True)]


def test_telephone_situations_require_their_phrases(rulebook):
    scores = [score_interaction(s, rulebook) for s in _segments(rulebook)]
    # 4: the colleague is absent and 七.2.3 was not said
    assert _found(scores[3]) == [("telephone", "phone.greet", False), ("telephone", "phone.absent", True)]
    assert "张科长不在" in scores[3].findings[1].evidence["cue_text"]
    assert "××不在，若需要帮助，我可以帮您转告" in scores[3].findings[1].reason
    # 5: a wrong number answered as prescribed: strengths, no deduction
    assert _found(scores[4]) == [("telephone", "phone.greet", False), ("telephone", "phone.wrong_number", False)]
    assert scores[4].score == 100.0
    # 6: answered with 喂 and no phrase for the wrong number
    assert _found(scores[5]) == [("telephone", "phone.greet", True), ("telephone", "phone.wrong_number", True)]
    minor = rulebook.scoring.severity_multiplier(rulebook.telephone.severity)
    assert scores[5].score == 100.0 - (5.0 + 3.0) * minor
    # 7: an outgoing call needs no greeting
    assert _found(scores[6]) == []


def test_personal_calls_while_serving_are_flagged_and_work_calls_are_not(rulebook):
    segs = _segments(rulebook)
    scores = [score_interaction(s, rulebook) for s in segs]
    purposes = [call_purpose(c, s.items, rulebook) for s in segs for c in find_calls(s.items, rulebook)]
    assert purposes == ["work", "personal", "excused", "public", "public", "public", "public", "work"]
    # 1: an incoming call about the citizen's 营业执照年报; 10: an outgoing call announced as work
    assert _found(scores[0]) == [("telephone", "phone.greet", False)] and scores[0].score == 100.0
    assert _found(scores[9]) == [] and scores[9].score == 100.0
    # 2: a family call while the citizen waits: 二.4, and no 七.2 judgement (no consultation)
    assert _found(scores[1]) == [("personal_call", "conduct.personal_call", True)]
    pc = rulebook.personal_call
    assert scores[1].score == 100.0 - pc.weight * rulebook.scoring.severity_multiplier(pc.severity)
    assert scores[1].findings[0].anchor.utterance.text.startswith("喂，妈")
    # 3: an urgent call excused to the citizen first (二.4 allows it)
    assert _found(scores[2]) == []


def test_relatedness_and_cues_come_from_the_rulebook(rulebook):
    segs = _segments(rulebook)
    work = segs[0]
    assert call_purpose(find_calls(work.items, rulebook)[0], work.items, rulebook) == "work"
    # without 营业执照 / 年报 among the matter words (and topics), the same call is no longer about the citizen's matter
    words = [w for w in rulebook.personal_call.matter_words if w not in ("营业执照", "年报")]
    book = rulebook.model_copy(update={"personal_call": rulebook.personal_call.model_copy(update={"matter_words": words}),
                                       "matters": rulebook.matters.model_copy(update={"topics": {}})})
    assert call_purpose(find_calls(work.items, book)[0], work.items, book) == "personal"
    # ... unless the queue ticket names the matter the call is about
    assert call_purpose(find_calls(work.items, rulebook)[0], work.items[3:], rulebook, queue_matter="营业执照年报") == "work"
    # the ticket's 事项 and the call's 营业执照 are one topic (企业开办): the citizen's words heard as 云业执政 do not matter
    garbled = [replace(i, utterance=replace(i.utterance, text="我来办云业执政")) if not i.by_staff else i for i in work.items]
    call = find_calls(garbled, rulebook)[0]
    assert call_purpose(call, garbled, rulebook) == "personal"
    assert call_purpose(call, garbled, rulebook, queue_matter="企业开办") == "work"
    assert call_purpose(call, garbled, rulebook, queue_matter="不动产登记") == "personal"
    assert find_cue("王姐现在不在", ["××不在"]) == "××不在"
    assert find_cue("这项业务不在我们这儿办", ["××不在"]) == "××不在"  # the exempt list of [telephone.situations] catches it


def test_a_retort_is_serious_and_linked_to_the_abuse_before_it(factory, rulebook):
    with factory() as s, s.begin():
        site = add_site(s, day=START)
        store_fixture(s, rulebook, NAME, window=site["A03"], start=START)
    with factory() as s:
        flags = {(f.kind, (f.evidence or {}).get("rule_id")): f for f in s.scalars(select(Flag))}
        retorts = sorted((f for f in s.scalars(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN))
                          if f.evidence["rule_id"] == "forbidden.retort"), key=lambda f: f.raised_at)
        assert [f.severity for f in retorts] == ["serious", "serious"]
        provoked = retorts[0].evidence["provoked_by"]
        insult = s.get(Utterance, provoked["utterance_id"])
        assert insult.text == "你们这帮人就知道混日子！" and insult.interaction_id == retorts[0].interaction_id
        abuse_flag = s.scalar(select(Flag).where(Flag.dedupe_key == provoked["flag_key"]))
        assert abuse_flag.kind is FlagKind.CITIZEN_ABUSE and not abuse_flag.penalised
        assert retorts[1].evidence["provoked_by"] is None  # unprovoked: no citizen abuse before it
        retorted = s.get(Interaction, retorts[0].interaction_id)
        assert retorted.score == 100.0 - 2 * 20.0  # serious: twice a major phrase
        assert (FlagKind.PERSONAL_CALL, "conduct.personal_call") in flags
        assert {k for k in flags if k[0] is FlagKind.TELEPHONE} == {(FlagKind.TELEPHONE, "phone.absent"), (FlagKind.TELEPHONE, "phone.greet"),
                                                                   (FlagKind.TELEPHONE, "phone.wrong_number")}


def test_dismissing_a_conduct_flag_gives_its_points_back_and_staff_see_it(factory, rulebook):
    from scoring.access.reviews import decide_flag
    from scoring.access.staff import staff_flagged_utterances
    from scoring.accounts import authenticate, create_account
    from scoring.effective import effective_score, score_adjustments

    with factory() as s, s.begin():
        site = add_site(s, day=START)
        store_fixture(s, rulebook, NAME, window=site["A03"], start=START)
        create_account(s, "insp", "long-enough-1", "inspector", rounds=4)
        create_account(s, "zhang", "long-enough-1", "staff", staff_no="1001", rounds=4)
    with factory() as s, s.begin():
        zhang = authenticate(s, "zhang", "long-enough-1")
        mine = {(r.kind, r.rule_id) for r in staff_flagged_utterances(s, zhang, rulebook=rulebook)}
        assert {("personal_call", "conduct.personal_call"), ("telephone", "phone.absent"), ("forbidden", "forbidden.retort")} <= mine
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.PERSONAL_CALL))
        decide_flag(s, authenticate(s, "insp", "long-enough-1"), flag.id, "dismiss", reason="the citizen's relative called", rulebook=rulebook)
        interaction_id = flag.interaction_id
    with factory() as s:
        adj = score_adjustments()
        score = s.scalar(select(effective_score(adj)).outerjoin(adj, adj.c.interaction_id == Interaction.id).where(Interaction.id == interaction_id))
        assert score == 100.0


@pytest.mark.parametrize(("text", "rule_id"), [
    ("您好，这里是市场监管窗口，请问有什么可以帮您？", "phone.greet"),
    ("对不起，您打错了，这里是市场监管窗口。", "phone.wrong_number"),
    ("您好，我是市场监管窗口的小赵，能否请刘主任接个电话，谢谢。", "phone.outgoing"),
    ("你算老几，神经病。", "forbidden.retort"),
    ("有病吧，催什么催。", "forbidden.retort"),
])
def test_the_matcher_finds_what_the_transcript_is_annotated_with(lexical_matcher, text, rule_id):
    from models.domain import Role, Utterance as U

    assert rule_id in {h.rule_id for h in lexical_matcher.match(U(text, Role.STAFF, 0.0, 2.0))}


def test_a_polite_firm_answer_is_no_retort(lexical_matcher):
    from models.domain import Role, Utterance as U

    for text in ("请您文明一点，有问题我们一起解决。", "请您文明一点，您再这样我就要报警了", "张科长不在。"):
        assert not [h for h in lexical_matcher.match(U(text, Role.STAFF, 0.0, 2.0)) if h.rule_id.startswith("forbidden.")], text


def test_the_reviewer_sees_what_a_flag_is_recorded_with_in_chinese(factory, rulebook):
    from dashboard import labels
    from scoring.access.flags import flag_detail
    from scoring.accounts import authenticate, create_account

    with factory() as s, s.begin():
        site = add_site(s, day=START)
        store_fixture(s, rulebook, NAME, window=site["A03"], start=START)
        create_account(s, "insp", "long-enough-1", "inspector", rounds=4)
    with factory() as s:
        insp = authenticate(s, "insp", "long-enough-1")
        retort = next(f for f in s.scalars(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN)) if f.evidence.get("provoked_by"))
        detail = flag_detail(s, insp, retort.id, rulebook=rulebook)
        assert [labels.linked_evidence(link) for link in detail.linked] == ["此前群众辱骂（第 443.0 秒）：你们这帮人就知道混日子！"]
        call = s.scalar(select(Flag).where(Flag.kind == FlagKind.PERSONAL_CALL))
        assert labels.summary(call.summary, rulebook).startswith("为群众办理业务时接听与该业务无关的电话（")
        absent = next(f for f in s.scalars(select(Flag).where(Flag.kind == FlagKind.TELEPHONE)) if f.evidence["rule_id"] == "phone.absent")
        assert labels.summary(absent.summary, rulebook) == "电话中（对方所找的人不在时）未说规范用语「××不在，若需要帮助，我可以帮您转告」"
        explained = [labels.reason(line["reason"], rulebook) for line in s.get(Interaction, absent.interaction_id).explanation]
        assert "电话中（接电话时）已说「您好，这里是××窗口，请问有什么可以帮您」：您好，这里是市场监管窗口，请问有什么可以帮您？" in explained


def _said(matcher, *lines: tuple[str, str, float]) -> list[MatchedUtterance]:
    from models.domain import Role, Utterance as U

    out = []
    for seq, (role, text, start_s) in enumerate(lines):
        u = U(text, Role(role), start_s, start_s + 2.5, started_at=START + timedelta(seconds=start_s))
        out.append(MatchedUtterance(seq, u, tuple(matcher.match(u)) if role != "citizen" else ()))
    return out


def test_a_phone_greeting_cut_in_two_by_the_asr_is_one_call_with_one_flag(lexical_matcher, rulebook):
    """Item 4: 您好这里是医保窗口 | 请问有什么可以帮您 (the second half also reads as a counter greeting)
    must neither start a new interaction nor a second call: one personal call, one flag."""
    from models.domain import MatchMethod, RuleFamily, RuleHit

    items = _said(lexical_matcher, ("staff", "您好，您需要办理什么业务", 0.0), ("citizen", "这是我的身份证", 4.0),
                  ("staff", "您好，这里是医保窗口", 9.0), ("staff", "请问有什么可以帮您", 12.0),
                  ("staff", "孩子放学你去接一下，我这边走不开", 16.0), ("citizen", "还要等多久啊", 21.0))
    # as stored from the 10 dB demo (seed 32): the classifier read both halves as phone.greet
    greet = RuleHit("phone.greet", RuleFamily.PHONE, 0.9, 0, 9, MatchMethod.CLASSIFIER, rulebook.version)
    items[2:4] = [replace(i, hits=(*i.hits, greet)) for i in items[2:4]]
    assert items[3].has_rule("courtesy.greet")  # what split the call off before
    [segment] = segment_utterances(items, [], SegmentOptions.from_rulebook(rulebook))
    assert len(find_calls(segment.items, rulebook)) == 1
    assert _found(score_interaction(segment, rulebook)) == [("personal_call", "conduct.personal_call", True)]


def test_a_call_whose_answer_was_misheard_is_found_by_its_phone_phrases(lexical_matcher, rulebook):
    """Item 2: Whisper writes 喂，您说的是… as 为您说的是…; the redirect (a phrase said only on the
    telephone, [telephone].context_rules) shows the call, and its missing greeting is flagged."""
    items = _said(lexical_matcher, ("staff", "为您说的是营业执照年报的事吧", 0.0), ("staff", "请您拨打税务窗口电话查询一下", 4.0))
    [segment] = segment_utterances(items, [], SegmentOptions.from_rulebook(rulebook))
    assert not segment.served
    assert _found(score_interaction(segment, rulebook)) == [("telephone", "phone.greet", True)]
    # without the context rules (or with a citizen at the counter) no call is made up
    book = rulebook.model_copy(update={"telephone": rulebook.telephone.model_copy(update={"context_rules": []})})
    assert find_calls(segment.items, book) == []
    served = _said(lexical_matcher, ("citizen", "我想问一下怎么查", 0.0), ("staff", "请稍等，我帮您查询一下", 4.0))
    assert find_calls(served, rulebook) == []


def test_a_call_after_the_counter_greeting_is_while_serving_even_when_the_citizens_lines_are_lost(lexical_matcher, rulebook):
    """Item 4, the right kind: at 10 dB the citizen's lines go first; staff greeted someone at the
    counter, so a private call after it is 二.4, not a public call judged by 七.2."""
    from models.domain import MatchMethod, RuleFamily, RuleHit

    items = _said(lexical_matcher, ("staff", "您好，您需要办理什么业务", 0.0), ("staff", "您好，这里是医保窗口，请问有什么可以帮您", 6.0),
                  ("staff", "孩子放学你去接一下，我这边走不开", 10.0), ("staff", "您的业务办好了，再见，请您慢走", 40.0))
    assert items[1].has_rule("phone.greet") or not items[1].hits
    if not items[1].has_rule("phone.greet"):
        greet = RuleHit("phone.greet", RuleFamily.PHONE, 0.9, 0, 9, MatchMethod.CLASSIFIER, rulebook.version)
        items[1] = replace(items[1], hits=(*items[1].hits, greet))
    [segment] = segment_utterances(items, [], SegmentOptions.from_rulebook(rulebook))
    [call] = find_calls(segment.items, rulebook)
    assert call.during_service
    assert _found(score_interaction(segment, rulebook)) == [("personal_call", "conduct.personal_call", True)]


def _heard(matcher, *lines: tuple[str, str, float]) -> list[MatchedUtterance]:
    """Lines as the matcher stores them: staff hits, citizen abuse and both sides' cues."""
    return [replace(i, cues=tuple(matcher.situation_cues(i.utterance))) for i in _said(matcher, *lines)]


def test_a_work_call_answered_with_wei_heard_as_wei2_is_a_call_without_its_greeting(lexical_matcher, rulebook):
    """Whisper base writes the 喂 of a call as 为 (demo seeds 41 and 43, 20 dB, as heard): the line
    opens a call ([telephone] answer_cue_by_sound) about the citizen's 营业执照, named in its first line."""
    for call in ("为世营业职照年报的是吗我正在给他办材", "为是营业执照年报的事吗我正在给他办", "为对这位群众的营业执照还差一份材料"):
        items = _heard(lexical_matcher, ("staff", "您好您今天需要办理什么业务", 0.0), ("citizen", "你好 我想办一下云业执政", 4.9),
                       ("staff", "这个业务今天就能办结", 10.1), ("staff", call, 15.2), ("citizen", "在哪儿签字", 21.8),
                       ("staff", "再见请慢走", 29.9))
        ticket = QueueCallEvent(START, "A004", matter="企业开办")  # the queue's 事项: the citizen's words are lost (云业执政)
        [segment] = segment_utterances(items, [ticket], SegmentOptions.from_rulebook(rulebook))
        [found] = find_calls(segment.items, rulebook)
        assert found.during_service and call_purpose(found, segment.items, rulebook, queue_matter="企业开办") == "work", call
        assert _found(score_interaction(segment, rulebook)) == [("telephone", "phone.greet", True)], call
        # what is said to the caller is no 七.1 situation at the counter (还差一份材料: materials_invalid)
        assert find_situations(segment, rulebook) == [], call


def test_a_work_call_answered_wei_nin_heard_as_for_you_is_a_call_without_its_greeting(lexical_matcher, rulebook):
    """Demo seed 45 (20 and 10 dB, as heard): 喂，您说的是… written 为您说的是…. 为您 is "for you" before
    what staff do for the citizen (为您办理), but 您说 addresses the caller ([telephone] answer_cue_to_caller)."""
    items = _heard(lexical_matcher, ("staff", "您好，请坐，您需要办理什么业务", 118.5), ("citizen", "你好，我想办一下营业执照", 124.5),
                   ("staff", "系统正在升级，可能要慢一点，您别着急", 129.0), ("staff", "为您说的是营业执照年报的事吧", 136.5),
                   ("citizen", "在哪儿签字", 142.0), ("staff", "您留一个手机号，办好了会给您发短信", 144.6), ("staff", "再见，请慢走", 150.0))
    [segment] = segment_utterances(items, [QueueCallEvent(START, "A004", matter="企业开办")], SegmentOptions.from_rulebook(rulebook))
    [found] = find_calls(segment.items, rulebook)
    assert found.during_service and call_purpose(found, segment.items, rulebook, queue_matter="企业开办") == "work"
    assert _found(score_interaction(segment, rulebook)) == [("telephone", "phone.greet", True)]


@pytest.mark.parametrize("text", ["为您办好了，请拿好", "为了方便您，可以网上办", "委托书带了吗", "微信扫一下这个码", "为什么要复印两份呢",
                                  "位置在您左手边", "为这个事您跑一趟不容易", "为您办理一下退休手续", "为您查一下进度",
                                  "为您说明一下要带的材料", "为您说一下流程", "为您服务是我们应该做的"])
def test_a_counter_line_that_starts_like_wei_opens_no_call(lexical_matcher, rulebook, text):
    items = _heard(lexical_matcher, ("staff", "您好，您需要办理什么业务", 0.0), ("citizen", "我来办医保报销", 4.0),
                   ("staff", text, 8.0), ("staff", "好了，再见，请慢走", 14.0))
    assert find_calls(items, rulebook) == [], text
