"""Severity levels are rulebook data: each level's penalty, every rule on a defined level, the
forbidden deduction scaled by it, and the flag queue filtering on exactly the rulebook's levels."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from _store_support import load_transcript, rulebook  # noqa: F401  (fixture)
from models.domain import RuleFamily
from models.rulebook import RulebookError, default_rulebook_path, load_rulebook
from scoring.access import severity_choices
from scoring.score import forbidden_points, score_interaction
from scoring.segment import MatchedUtterance, QueueCallEvent, SegmentOptions, segment_utterances

START = datetime(2026, 3, 2, 9, 0, 0)
LEVELS = "[scoring.severity]\nminor = 0.5\nmajor = 1.0\nserious = 2.0\n"


def _book(tmp_path: Path, text: str):
    path = tmp_path / "book.toml"
    path.write_text(text, encoding="utf-8")
    return load_rulebook(path)


def _shipped() -> str:
    return default_rulebook_path().read_text(encoding="utf-8")


def _with_severity(rule_id: str, level: str) -> str:
    # the shipped rulebook with one forbidden rule moved to another level
    text = _shipped()
    at = text.index(f'id = "{rule_id}"')
    head, tail = text[:at], text[at:]
    return head + tail.replace('severity = "major"', f'severity = "{level}"', 1)


def test_shipped_levels_and_every_forbidden_rule_on_one(rulebook):
    assert rulebook.scoring.severity_levels == ["minor", "major", "serious"]
    assert [rulebook.scoring.severity_multiplier(s) for s in rulebook.scoring.severity] == [0.5, 1.0, 2.0]
    forbidden = rulebook.family(RuleFamily.FORBIDDEN)
    assert forbidden and all(r.severity.value in rulebook.scoring.severity_levels for r in forbidden)
    # 七.3 and 八.1 do not grade the forbidden phrases: all major, today's 20 points each; a retort with
    # abuse (恶语还击, 二.7) is the one serious rule: 40 points
    graded = {r.id: r.severity.value for r in forbidden}
    assert graded.pop("forbidden.retort") == "serious" and set(graded.values()) == {"major"}
    assert {forbidden_points(r, rulebook) for r in forbidden if r.id in graded} == {20.0}
    assert forbidden_points(rulebook.rule("forbidden.retort"), rulebook) == 40.0


def _without_serious() -> str:
    # the shipped rulebook without the level "serious" (its one serious rule made major)
    return _shipped().replace("serious = 2.0\n", "").replace('severity = "serious"', 'severity = "major"')


def _third_interaction(book):
    items = [MatchedUtterance(i.seq, replace(i.utterance, started_at=START + timedelta(seconds=i.utterance.start_s)), i.hits, i.abuse)
             for i in load_transcript("window-a03-morning.jsonl", book)]
    calls = [QueueCallEvent(START + timedelta(seconds=415), "A012", START + timedelta(seconds=115))]
    segs = segment_utterances(items, calls, SegmentOptions.from_rulebook(book))
    return score_interaction(segs[2], book)  # the one where staff said forbidden.already_told


@pytest.mark.parametrize(("level", "deducted", "score"), [("major", 20.0, 60.0), ("serious", 40.0, 40.0), ("minor", 10.0, 70.0)])
def test_the_deduction_follows_the_rules_severity(tmp_path, level, deducted, score):
    book = _book(tmp_path, _with_severity("forbidden.already_told", level))
    result = _third_interaction(book)
    line = next(l for l in result.lines if l.rule_id == "forbidden.already_told")
    assert (line.points, line.severity, result.score) == (-deducted, level, score)
    assert f", {level})" in line.reason


def test_a_site_may_change_a_levels_penalty(tmp_path):
    book = _book(tmp_path, _shipped().replace("major = 1.0", "major = 1.5", 1))
    assert forbidden_points(book.rule("forbidden.go_to_leader"), book) == 30.0


def test_a_rules_severity_must_be_a_defined_level(tmp_path):
    without_serious = _with_severity("forbidden.impatient", "serious").replace("serious = 2.0\n", "")
    with pytest.raises(RulebookError, match=r"forbidden\.impatient.*'serious' is not a level of \[scoring\.severity\]"):
        _book(tmp_path, without_serious)
    with pytest.raises(RulebookError, match="forbidden.impatient"):
        _book(tmp_path, _with_severity("forbidden.impatient", "fatal"))


def test_levels_are_validated(tmp_path):
    shipped = _shipped()
    assert LEVELS in shipped
    with pytest.raises(RulebookError, match=r"\['minor'\] are missing"):
        _book(tmp_path, shipped.replace(LEVELS, "[scoring.severity]\nmajor = 1.0\nserious = 2.0\n"))
    with pytest.raises(RulebookError, match="never smaller for a more severe level"):
        _book(tmp_path, shipped.replace(LEVELS, "[scoring.severity]\nminor = 0.5\nmajor = 1.0\nserious = 0.8\n"))
    with pytest.raises(RulebookError, match="scoring.severity"):
        _book(tmp_path, shipped.replace(LEVELS, "[scoring.severity]\nminor = 0.5\nmajor = 1.0\nfatal = 3.0\n"))
    # the file's order does not matter: the levels come back mildest first
    book = _book(tmp_path, shipped.replace(LEVELS, "[scoring.severity]\nserious = 3.0\nminor = 0.5\nmajor = 1.0\n"))
    assert book.scoring.severity_levels == ["minor", "major", "serious"]


def test_the_queue_offers_exactly_the_rulebooks_levels(tmp_path, rulebook):
    assert severity_choices(rulebook) == ["minor", "major", "serious"]
    two = _book(tmp_path, _without_serious())
    assert severity_choices(two) == ["minor", "major"]


def test_the_queue_page_filters_on_the_rulebooks_levels(tmp_path, monkeypatch):
    """The inspector's queue: the severity filter offers the configured rulebook's levels and filters by them."""
    streamlit_testing = pytest.importorskip("streamlit.testing.v1")
    from _dashboard_support import PASSWORD, build_hall, set_env

    set_env(build_hall(tmp_path / "hall"), monkeypatch)
    # a site rulebook without "serious"
    site_book = tmp_path / "site-rulebook.toml"
    site_book.write_text(_without_serious(), encoding="utf-8")
    monkeypatch.setenv("WINDOWQA_RULEBOOK_PATH", str(site_book))
    at = streamlit_testing.AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.text_input(key="login_user").input("insp")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click()
    at.run()
    at.switch_page("app_pages/queue.py")
    at.run()
    assert not at.exception, at.exception
    severity = at.multiselect(key="q_sev")
    assert severity.options == ["一般", "较重"]  # minor, major: exactly the site rulebook's levels
    assert {"一般", "较重"} <= set(at.dataframe[0].value["severity"])  # the table shows the levels' names
    severity.select("major")
    at.run()
    assert set(at.dataframe[0].value["severity"]) == {"较重"}
