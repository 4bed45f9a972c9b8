"""Where a slot's filler lies: the traceback of the best alignment, and NearMiss.slot_spans."""

from __future__ import annotations

import pytest

from nlp.align import align, make_template
from nlp.pinyin import regional_key, syllables


def _aligned(wording_parts, text, **kw):
    tpl = make_template("r", "×".join(p or "" for p in wording_parts), [None if p is None else syllables(p) for p in wording_parts])
    syl = syllables(text)
    return align(tpl, syl, tuple(regional_key(s) for s in syl), **kw)


def _fillers(text, miss):
    return [text[s:e] for s, e in miss.slot_spans]


# ----------------------------------------------------------------- nlp.align
def test_slot_spans_only_when_asked_and_same_alignment():
    parts = ["请到", None, "窗口办理"]
    for text in ("好的请到社保窗口办理吧", "请到不动产登记中心窗口伴里", "请到窗口办理", "你去社保窗口"):
        plain = _aligned(parts, text)
        traced = _aligned(parts, text, with_slots=True)
        assert plain.slots == ()
        assert (plain.cost, plain.score, plain.end) == (traced.cost, traced.score, traced.end)
        assert len(traced.slots) == 1
        s, e = traced.slots[0]
        assert traced.start <= s <= e <= traced.end
    # without a slot the traceback follows the forward pass exactly
    for text in ("再见请慢", "在见请慢走", "好的再见"):
        plain, traced = _aligned(["再见请慢走"], text), _aligned(["再见请慢走"], text, with_slots=True)
        assert (plain.cost, plain.start, plain.end, traced.slots) == (traced.cost, traced.start, traced.end, ())


def test_filler_is_what_the_fixed_parts_cannot_explain():
    # 到 misheard as 去 costs as much as 到 dropped with 去 put in the slot: the filler is the
    # shorter one, so the filled wording does not repeat the misheard part (请到去社保窗口办理)
    text = "请去社保窗口办理"
    al = _aligned(["请到", None, "窗口办理"], text, with_slots=True)
    assert [text[s:e] for s, e in al.slots] == ["社保"]


def test_slot_span_is_the_filler():
    text = "好的请到社保窗口办理吧"
    al = _aligned(["请到", None, "窗口办理"], text, with_slots=True)
    assert text[al.start : al.end] == "请到社保窗口办理"
    assert [text[s:e] for s, e in al.slots] == ["社保"]
    # an empty filler is an empty span at the slot's place
    al = _aligned(["请到", None, "窗口办理"], "请到窗口办理", with_slots=True)
    assert al.slots == ((2, 2),)


def test_two_slots_and_a_misheard_fixed_part():
    text = "你好我是税务局小王请李科长节个电话谢谢"
    al = _aligned(["您好我是", None, "请", None, "接个电话谢谢"], text, with_slots=True)
    assert [text[s:e] for s, e in al.slots] == ["税务局小王", "李科长"]


def test_slot_longer_than_max_slot_is_cut():
    text = "请到一二三四五六七八窗口办理"
    al = _aligned(["请到", None, "窗口办理"], text, with_slots=True, max_slot=4)
    s, e = al.slots[0]
    assert e - s <= 4 and al.score < 1.0


# ----------------------------------------------------------------- NearMiss.slot_spans
def test_near_miss_slot_filler_from_noisy_transcript(lexical_matcher):
    # spoken 对不起，这个业务请到公积金窗口办理，就在对面 in babble
    text = "对不起 这个业务请到攻击经常口伴了就在对面"
    miss = {m.rule_id: m for m in lexical_matcher.near_misses(text)}["courtesy.wrong_window"]
    assert miss.score < miss.threshold
    (filler,) = _fillers(text, miss)
    assert filler.startswith("攻击") and filler in "攻击经常"
    assert miss.start <= miss.slot_spans[0][0] < miss.slot_spans[0][1] <= miss.end


def test_near_miss_slot_spans_are_in_original_characters(lexical_matcher):
    text = "这个业务，请到 社保 窗口吧"
    miss = {m.rule_id: m for m in lexical_matcher.near_misses(text)}["courtesy.wrong_window"]
    assert text[miss.start : miss.end] == "请到 社保 窗口"
    assert _fillers(text, miss) == ["社保"]


def test_near_miss_with_two_slots(lexical_matcher):
    text = "怒号，我是税务局的小王，请李科长接个电话"  # 您好 misheard, 谢谢 not said
    miss = {m.rule_id: m for m in lexical_matcher.near_misses(text)}["phone.outgoing"]
    assert miss.template.count("××") == 2
    assert _fillers(text, miss) == ["税务局的小王", "李科长"]


@pytest.mark.parametrize(
    "text, rule_id, edge",
    [
        ("刘主任不在若需要的话我可以帮你带话", "phone.absent", "start"),  # ××不在，若需要帮助，…
        ("你发错了，这里事社保局。", "phone.wrong_number", "end"),  # 您打错了，这里是××
    ],
)
def test_slot_at_either_end_of_a_wording_lies_outside_the_match(lexical_matcher, text, rule_id, edge):
    miss = {m.rule_id: m for m in lexical_matcher.near_misses(text)}[rule_id]
    assert miss.template.startswith("××") == (edge == "start") and miss.template.endswith("××") == (edge == "end")
    at = miss.start if edge == "start" else miss.end
    assert miss.slot_spans == ((at, at),)


def test_wording_without_slots_has_none(lexical_matcher):
    misses = lexical_matcher.near_misses("有一天你找林到")
    assert misses and all(m.slot_spans == () for m in misses if "××" not in m.template)


def test_exempt_utterance_offers_no_forbidden_near_miss(lexical_matcher):
    # guiding the citizen to the right window is no push-off, however the rest was heard
    text = "这个不属于我们窗口办里，请到社保窗口办理"
    assert "forbidden.not_our_window" not in {h.rule_id for h in lexical_matcher.match(text)}
    assert "forbidden.not_our_window" not in {m.rule_id for m in lexical_matcher.near_misses(text)}
