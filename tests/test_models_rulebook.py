"""The rulebook: every stable rule id, the seed's wording, and validation errors that say where."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from models.rulebook import RulebookError, default_rulebook_path, load_rulebook

SPEC = Path(__file__).parent / "data" / "spec" / "rule-ids.md"


def _spec_ids() -> list[str]:
    return re.findall(r"^\| ((?:courtesy|phone|forbidden)\.[a-z_]+) \|", SPEC.read_text(encoding="utf-8"), re.M)


def test_rulebook_holds_every_stable_id(rulebook):
    ids = _spec_ids()
    assert len(ids) == 27
    assert [r.id for r in rulebook.rules][: len(ids)] == ids


def test_canonical_wording_is_the_seeds(rulebook):
    table = dict(re.findall(r"^\| ((?:courtesy|phone|forbidden)\.[a-z_]+) \| (.+?) \|", SPEC.read_text(encoding="utf-8"), re.M))
    for rule_id, wording in table.items():
        wording = wording.split(" (used")[0]
        assert rulebook.rule(rule_id).canonical.replace(",", "，") == wording.replace("（要下班了）", "").replace("（", "(") or (
            rule_id == "forbidden.come_tomorrow"
        ), rule_id


def test_required_and_severity(rulebook):
    assert {r.id: r.required for r in rulebook.required_rules} == {"courtesy.greet": "start", "courtesy.farewell": "end"}
    assert all(r.severity for r in rulebook.rules if r.id.startswith("forbidden."))


def test_schedule_by_season(rulebook):
    a = rulebook.attendance
    assert a.shift_for(date(2026, 7, 1)).afternoon_arrive_by == time(14, 0)
    assert a.shift_for(date(2026, 12, 1)).afternoon_leave_from == time(17, 30)
    assert a.is_summer(date(2026, 5, 1)) and a.is_summer(date(2026, 9, 30)) and not a.is_summer(date(2026, 10, 1))


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "book.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _shipped() -> str:
    return default_rulebook_path().read_text(encoding="utf-8")


def test_unknown_key_names_the_rule(tmp_path):
    text = _shipped().replace('id = "courtesy.farewell"', 'id = "courtesy.farewell"\nwieght = 3', 1)
    with pytest.raises(RulebookError) as err:
        load_rulebook(_write(tmp_path, text))
    message = str(err.value)
    assert "book.toml" in message and "courtesy.farewell" in message and "wieght" in message


def test_bad_time_names_the_key(tmp_path):
    text = _shipped().replace('afternoon_arrive_by = "13:30"', 'afternoon_arrive_by = "25:30"', 1)
    with pytest.raises(RulebookError, match=r"attendance\.winter\.afternoon_arrive_by"):
        load_rulebook(_write(tmp_path, text))


def test_duplicate_id_and_missing_severity(tmp_path):
    text = _shipped().replace('id = "courtesy.farewell"', 'id = "courtesy.greet"', 1)
    with pytest.raises(RulebookError, match="appears twice"):
        load_rulebook(_write(tmp_path, text))
    text = _shipped().replace('severity = "major"\nweight = 20.0\n\n[[rules]]\nid = "forbidden.already_told"', 'weight = 20.0\n\n[[rules]]\nid = "forbidden.already_told"', 1)
    with pytest.raises(RulebookError, match="needs a severity"):
        load_rulebook(_write(tmp_path, text))


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(RulebookError, match="not valid TOML"):
        load_rulebook(_write(tmp_path, "version = \n"))
    with pytest.raises(RulebookError, match="not found"):
        load_rulebook(tmp_path / "nope.toml")


def test_conduct_tables_name_known_rules_and_levels(tmp_path):
    """Issue 15: telephone situations, personal calls and repeat visits are validated like the rules."""
    rb = load_rulebook()
    assert [s.name for s in rb.telephone.situations] == ["wrong_number", "absent", "transfer", "redirect"]
    assert rb.rule(rb.retort.rule).severity.value == "serious" and rb.repeat_visit.working_days == 5
    bad = _shipped().replace('rules = ["phone.wrong_number"]', 'rules = ["phone.wrong_numbr"]', 1)
    with pytest.raises(RulebookError, match=r"telephone\.situations \(wrong_number\): 'phone\.wrong_numbr'"):
        load_rulebook(_write(tmp_path, bad))
    with pytest.raises(RulebookError, match=r"a cue needs some fixed text"):
        load_rulebook(_write(tmp_path, _shipped().replace('cues = ["××不在"]', 'cues = ["××"]', 1)))
    with pytest.raises(RulebookError, match=r"working_days"):
        load_rulebook(_write(tmp_path, _shipped().replace("working_days = 5\nseverity", "working_days = -1\nseverity", 1)))


def test_context_rules_matters_and_the_repeat_visits_weight_are_validated(tmp_path):
    rb = load_rulebook()
    assert rb.repeat_visit.weight > 0 and "phone.redirect" in rb.telephone.context_rules
    assert rb.matters.topics_of("营业执照") == {"企业开办"} and rb.rule("courtesy.wrong_window").detect.queue_weight
    with pytest.raises(RulebookError, match=r"telephone\.context_rules"):
        load_rulebook(_write(tmp_path, _shipped().replace('context_rules = ["phone.take_message"', 'context_rules = ["phone.take_mesage"', 1)))
    repeat = 'working_days = 5\nseverity = "major"\nweight = 10.0'
    assert repeat in _shipped()
    with pytest.raises(RulebookError, match=r"repeat_visit.*weight"):
        load_rulebook(_write(tmp_path, _shipped().replace(repeat, repeat.replace("10.0", "-1.0"), 1)))
    with pytest.raises(RulebookError, match=r"a cue needs some fixed text"):
        load_rulebook(_write(tmp_path, _shipped().replace('"户籍" = ["户口"', '"户籍" = [""', 1)))


def test_character_folds_are_one_character_each_and_keeps_hold_one(tmp_path):
    with pytest.raises(RulebookError, match="one character to one"):
        load_rulebook(_write(tmp_path, _shipped().replace('char_folds = { "著" = "着" }', 'char_folds = { "著" = "着着" }', 1)))
    with pytest.raises(RulebookError, match="holds no folded character"):
        load_rulebook(_write(tmp_path, _shipped().replace('char_fold_keeps = [', 'char_fold_keeps = ["名人", ', 1)))
