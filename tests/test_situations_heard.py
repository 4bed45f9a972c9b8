"""The 七.1 situations on transcripts as Whisper heard demo halls (issue 15, item 4): a misheard
form-error line, a situation cue said on a telephone call, a citizen's complaint after a call
while serving, an excused urgent call, and materials wanting answered with the forbidden wording (``tests/data/transcripts/situations-heard.jsonl``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from _store_support import TRANSCRIPTS
from models.domain import Role, Utterance
from models.rulebook import default_rulebook_path, load_rulebook
from scoring.conduct import find_calls
from scoring.score import score_interaction
from scoring.segment import MatchedUtterance, Segment

START = datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture(scope="module")
def heard(lexical_matcher) -> dict[str, tuple[str, list[MatchedUtterance]]]:
    """situations-heard.jsonl as matched utterances per case, with what each case must give."""
    rows = [json.loads(line) for line in (TRANSCRIPTS / "situations-heard.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    by_case: dict[str, list] = defaultdict(list)
    for seq, row in enumerate(rows):
        u = Utterance(row["text"], Role(row["role"]), row["start_s"], row["end_s"], started_at=START + timedelta(seconds=row["start_s"]))
        hits = tuple(lexical_matcher.match(u)) if u.role is not Role.CITIZEN else ()
        by_case[row["case"]].append((row.get("expect"), MatchedUtterance(seq, u, hits, (), tuple(lexical_matcher.situation_cues(u)))))
    return {name: (items[0][0], [item for _e, item in items]) for name, items in by_case.items()}


def _found(items, rulebook) -> dict[str, object]:
    return {f.rule.id: f for f in score_interaction(Segment(0, items), rulebook).situations}


def test_every_heard_case_gives_what_it_expects(heard, rulebook):
    for name, (expect, items) in heard.items():
        found = _found(items, rulebook)
        if expect == "none":
            assert not found, f"{name}: detected {sorted(found)}"
            continue
        rule_id, outcome = expect.split("=")
        assert set(found) == {rule_id}, f"{name}: expected {rule_id}, found {sorted(found)}"
        assert (found[rule_id].said is not None) == (outcome == "said"), name


def test_a_form_error_is_found_however_the_citizen_names_the_writing(heard, rulebook):
    # 哪里填错了 heard as 那里偏错了: the cue 哪里××错了 (toneless pinyin, the verb in the slot)
    _e, items = heard["form_error-missing-s42"]
    citizen = next(i for i in items if i.utterance.text == "那里偏错了")
    assert [c.rule_id for c in citizen.cues] == ["situation.form_error"]
    assert "哪里××错了" in rulebook.rule("courtesy.form_error").detect.citizen


def test_a_cue_said_on_a_telephone_call_is_no_situation_at_the_counter(heard, lexical_matcher, rulebook):
    _e, items = heard["work_call-materials-s42"]
    on_call = next(i for i in items if "还差一份材料" in i.utterance.text)
    assert "situation.materials_invalid" in [c.rule_id for c in on_call.cues]
    assert any(on_call in call.items for call in find_calls(items, rulebook))
    assert _found(items, rulebook) == {}
    # the same words said to the citizen at the counter (no call) are the situation
    told = Utterance("您的营业执照还差一份材料", Role.STAFF, on_call.utterance.start_s, on_call.utterance.end_s)
    counter = [MatchedUtterance(i.seq, told, tuple(lexical_matcher.match(told)), (), tuple(lexical_matcher.situation_cues(told)))
               if i is on_call else i for i in items if not i.has_rule("phone.outgoing")]
    assert not find_calls(counter, rulebook) and set(_found(counter, rulebook)) == {"courtesy.materials_invalid"}


def test_a_call_while_serving_explains_the_citizens_wait_as_the_rulebook_says(heard, tmp_path):
    text = default_rulebook_path().read_text(encoding="utf-8")
    assert text.count("call_explains = true") == 1
    bad = tmp_path / "no-explain.toml"
    bad.write_text(text.replace("call_explains = true", "call_explains = false"), encoding="utf-8")
    shipped, without = load_rulebook(), load_rulebook(bad)
    _e, personal = heard["personal_call-s42"]
    assert _found(personal, shipped) == {}  # the personal call is the conduct check's (二.4)
    assert set(_found(personal, without)) == {"courtesy.urgent_leave"}  # 人怎么走了 alone, without the switch
    # an urgent call excused with the phrase: the situation, said (a strength), either way
    _e, excused = heard["excused_call-s43"]
    for rulebook in (shipped, without):
        found = _found(excused, rulebook)
        assert set(found) == {"courtesy.urgent_leave"} and found["courtesy.urgent_leave"].said is not None


def test_the_forbidden_wording_of_a_situation_shows_it_when_the_cue_words_are_misheard(heard, rulebook, tmp_path):
    # 手续不全你来干什么 heard as 手需不钱你来干什么: no cue left, the forbidden rule still found
    _e, items = heard["materials_invalid-forbidden-s74"]
    staff = next(i for i in items if i.utterance.text.startswith("手需不钱"))
    assert staff.has_rule("forbidden.incomplete_papers") and not staff.cues
    assert rulebook.rule("courtesy.materials_invalid").detect.forbidden == ["forbidden.incomplete_papers"]
    found = _found(items, rulebook)
    assert set(found) == {"courtesy.materials_invalid"} and found["courtesy.materials_invalid"].said is None
    assert found["courtesy.materials_invalid"].anchor is staff
    text = default_rulebook_path().read_text(encoding="utf-8")
    without = tmp_path / "no-forbidden-cue.toml"
    without.write_text(text.replace('forbidden = ["forbidden.incomplete_papers"]\n', "", 1), encoding="utf-8")
    assert _found(items, load_rulebook(without)) == {}
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('forbidden = ["forbidden.incomplete_papers"]', 'forbidden = ["courtesy.greet"]', 1), encoding="utf-8")
    with pytest.raises(Exception, match="detect.forbidden names no forbidden rule"):
        load_rulebook(bad)
