"""The hall simulator: deterministic, consistent ground truth, stereo levels as stated."""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.domain import Role
from windowqa.demo.simulator import (
    HallSize,
    HallTruth,
    SimOptions,
    SimulationError,
    generate_hall,
    load_truth,
)

TINY = SimOptions(size=HallSize(windows=2, interactions=4, days=1))


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    return generate_hall(tmp_path_factory.mktemp("hall"), TINY)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_same_seed_same_files_other_seed_other_hall(hall, tmp_path):
    again = generate_hall(tmp_path / "again", TINY)
    assert _digest(again.folder) == _digest(hall.folder)
    other = generate_hall(tmp_path / "other", SimOptions(seed=8, size=TINY.size))
    assert other.truth.utterances != hall.truth.utterances


def test_sizes_parse_presets_and_patterns():
    assert HallSize.parse("small") == HallSize(4, 12, 1)
    assert HallSize.parse("6x12x2") == HallSize(6, 12, 2)
    assert HallSize.parse("5x8") == HallSize(5, 8, 1)
    for bad in ("huge", "9x10", "4x0", "4x10x99"):
        with pytest.raises(SimulationError):
            HallSize.parse(bad)


def test_truth_is_consistent(hall):
    truth = load_truth(hall.folder)
    recs = {r.id: r for r in truth.recordings}
    inters = {i.id: i for i in truth.interactions}
    assert len(recs) == 4 and len(inters) == 8
    for u in truth.utterances:
        rec, inter = recs[u.recording], inters[u.interaction]
        assert 0 < u.start_s < u.end_s <= rec.duration_s
        assert inter.start_s <= u.start_s and u.end_s <= inter.end_s
        assert u.channel == (0 if u.speaker is Role.STAFF else 1)
        if u.speaker is Role.CITIZEN:
            assert u.rule_ids == [] and u.optional_rule_ids == []
    # turns never overlap within a recording: who said what when is unambiguous
    for rec_id in recs:
        spans = sorted((u.start_s, u.end_s) for u in truth.utterances if u.recording == rec_id)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    # every served interaction has its queue call shortly before it; phone calls have none
    calls = {q.interaction: q for q in truth.queue_calls}
    for inter in inters.values():
        if inter.served:
            assert 0 < (inter.started_at - calls[inter.id].called_at).total_seconds() < 10
        else:
            assert inter.id not in calls and inter.scenario.startswith("phone_")
    # a rating comes after its interaction and before the next citizen at that window
    for r in truth.ratings:
        inter = inters[r.interaction]
        assert inter.ended_at.replace(microsecond=0) <= r.rated_at
        later = [i for i in inters.values() if i.recording == inter.recording and i.start_s > inter.start_s]
        if later:
            assert r.rated_at < min(later, key=lambda i: i.start_s).started_at
    # the substitute serves the afternoon of the window whose staff member is on leave
    sub = truth.substitutes[0]
    assert truth.leave[0].staff == sub.replaces
    afternoon = [i for i in inters.values() if i.window == sub.window and i.recording.endswith("-pm")]
    assert afternoon and all(i.staff_no == sub.substitute for i in afternoon)
    statuses = {e.status for e in truth.attendance.expected}
    assert {"on_time", "late", "leave"} <= statuses


def test_truth_file_reads_back_as_written(hall):
    """truth.json round-trips through the typed records; it holds no audio."""
    raw = json.loads((hall.folder / "truth.json").read_text(encoding="utf-8"))
    truth = load_truth(hall.folder)
    assert truth == hall.truth
    assert truth.to_json() == raw
    assert isinstance(truth.utterances[0].speaker, Role) and isinstance(truth.recordings[0].started_at, datetime)
    assert "_audio" not in raw["recordings"][0] and set(raw["recordings"][0]) == {
        "id", "window", "started_at", "duration_s", "staff_no", "path"}
    # a card check-in has no image, a face check-in no card number; a half-day on leave no minutes
    checks = raw["attendance"]["checkins"]
    assert any("card_no" in c and "image" not in c for c in checks)
    assert any("image" in c and "card_no" not in c for c in checks)
    assert any(e["status"] == "leave" and "late_minutes" not in e for e in raw["attendance"]["expected"])


def test_a_truth_of_another_version_or_shape_is_refused(hall, tmp_path):
    raw = json.loads((hall.folder / "truth.json").read_text(encoding="utf-8"))
    (tmp_path / "truth.json").write_text(json.dumps({**raw, "version": 99}), encoding="utf-8")
    with pytest.raises(SimulationError, match="version 99"):
        load_truth(tmp_path)
    del raw["recordings"][0]["path"]
    (tmp_path / "truth.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SimulationError, match="malformed"):
        load_truth(tmp_path)
    assert isinstance(load_truth(hall.folder), HallTruth)


def test_files_a_site_hands_over(hall):
    folder = hall.folder
    for name in ("site.toml", "queue.csv", "ratings.csv", "leave.csv", "checkins.csv", "truth.json"):
        assert (folder / name).is_file(), name
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    assert len((folder / "ratings.csv").read_text(encoding="utf-8").splitlines()) == len(truth["ratings"]) + 1
    faces = [c for c in truth["attendance"]["checkins"] if c["method"] == "face"]
    assert faces and all((folder / c["image"]).is_file() for c in faces)
    # the substitute's filing time (备案) is in the site file, as a hall would hand it over
    site = tomllib.loads((folder / "site.toml").read_text(encoding="utf-8"))
    assert [s["filed_at"] for s in site["substitutes"]] == [s["filed_at"] for s in truth["substitutes"]]


def test_stereo_levels_are_as_stated(hall):
    """Channel 0 carries staff, channel 1 the citizen; each hears the other lower; noise at the SNR."""
    truth = hall.truth
    rec = truth.recordings[0]
    audio, rate = sf.read(str(hall.folder / rec.path), dtype="float32", always_2d=True)
    assert audio.shape[1] == 2 and rate == 16000
    audio = audio.T

    def rms_db(x):
        return 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)

    diffs = []
    for u in (u for u in truth.utterances if u.recording == rec.id):
        a, b = int(u.start_s * rate), int(u.end_s * rate)
        own, other = rms_db(audio[u.channel, a:b]), rms_db(audio[1 - u.channel, a:b])
        diffs.append(own - other)
    # crosstalk -12 dB plus the hall noise on the far channel: the own side is clearly louder
    assert min(diffs) > 6 and np.median(diffs) == pytest.approx(-TINY.crosstalk_db, abs=3)
    # the quiet stretch before the first line holds only hall noise, about snr_db below speech (-20 dBFS)
    first = min(u.start_s for u in truth.utterances if u.recording == rec.id)
    noise_db = rms_db(audio[0, : int((first - 0.5) * rate)])
    assert noise_db == pytest.approx(-20.0 - TINY.snr_db, abs=3)


def test_named_scenarios_come_first_and_tickets_say_the_matter(tmp_path):
    """SimOptions.scenarios (the CI demo's conduct scenarios): used in order, variants as named; a work
    call's ticket names 企业开办, a citizen at the wrong window holds a ticket for another window's matter."""
    named = ("work_call:no_call_greeting", "wrong_window", "retort:unprovoked", "phone_no_greeting")
    options = SimOptions(seed=3, size=HallSize(windows=1, interactions=4, days=1), scenarios=named)
    truth = generate_hall(tmp_path / "h", options).truth
    got = [(i.scenario, i.conduct) for i in truth.interactions]
    assert got == [("work_call", ["telephone:phone.greet"]), ("wrong_window", []), ("retort", ["retort"]),
                   ("phone_no_greeting", ["telephone:phone.greet"])]
    tickets = {q.interaction: q.matter for q in truth.queue_calls}
    window = truth.windows[0].name
    assert tickets[truth.interactions[0].id] == "企业开办"
    assert tickets[truth.interactions[1].id] not in (window, None) and truth.interactions[1].matter == tickets[truth.interactions[1].id]
    assert load_truth(tmp_path / "h").options.scenarios == named
    with pytest.raises(SimulationError, match="unknown scenario"):
        generate_hall(tmp_path / "bad", SimOptions(size=HallSize(windows=1, interactions=1, days=1), scenarios=("no_such",)))


def test_demo_command_names_an_unknown_scenario_or_variant_before_replacing_the_folder(tmp_path, monkeypatch):
    """``windowqa demo --scenario`` (repeatable): a name or variant outside the library stops the command
    with the name and the known ones, before anything is simulated or the demo folder replaced."""
    from typer.testing import CliRunner

    from windowqa.cli import app

    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "keep.txt").write_text("last run", encoding="utf-8")
    base = ["demo", "--no-serve", "--dir", str(folder), "--size", "1x8", "--phone-calls", "3"]
    result = CliRunner().invoke(app, [*base, "--scenario", "work_call:no_call_greeting", "--scenario", "phone_no_such",
                                      "--scenario", "phone_no_greeting"])
    assert result.exit_code == 2, result.output
    assert "unknown scenario(s) ['phone_no_such']" in result.output and "phone_wrong_number" in result.output
    result = CliRunner().invoke(app, [*base, "--scenario", "work_call:no_greeting_on_call"])
    assert result.exit_code == 2 and "unknown variant in scenario(s) ['work_call:no_greeting_on_call']" in result.output
    assert "no_call_greeting" in result.output
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_a_cover_makes_room_for_every_situation_and_keeps_the_first_of_each_conduct_scenario():
    """SituationCover (issue 15, item 4): drawn by weight alone a 2x8 hall lacks a given situation about
    half of the time; covered, it holds all six, the look-alikes where room is left, and the first
    personal call, work call and retort it drew."""
    from windowqa.demo.simulator.situations import COVER_KEEPS, LOOKALIKE_WEIGHTS, SITUATION_RULES, SituationCover

    drawn = ["retort", "ordinary", "personal_call", "retort", "long_wait", "work_call", "ordinary", "personal_call",
             "materials_returned", "citizen_abuse", "long_wait", "wrong_window", "retort", "ordinary"]
    cover = SituationCover(47, len(drawn), True)
    got = [cover.choose(d) for d in drawn]
    assert set(SITUATION_RULES) <= set(got)
    assert {"retort", "personal_call", "work_call"} <= set(got) and set(COVER_KEEPS) >= {"retort", "personal_call", "work_call"}
    assert len(set(LOOKALIKE_WEIGHTS) & set(got)) == len(drawn) - len(SITUATION_RULES) - 3
    assert got[0] == "retort" and got[2] == "personal_call" and got[5] == "work_call"  # first occurrences stay where drawn
    # off, too small a hall, or scenarios the options name: drawn as before
    assert [SituationCover(47, len(drawn), False).choose(d) for d in drawn] == drawn
    assert [SituationCover(47, 11, True).choose(d) for d in drawn[:11]] == drawn[:11]
    named = SituationCover(47, len(drawn), True)
    assert [named.choose(d, named=True) for d in drawn] == drawn


def test_a_covered_hall_holds_every_situation_and_an_excused_call_is_the_urgent_leave_said(tmp_path):
    options = SimOptions(seed=5, size=HallSize(windows=1, interactions=13, days=1), situation_cover=13, scenarios=("excused_call",))
    truth = generate_hall(tmp_path / "h", options).truth
    from windowqa.demo.simulator.situations import SITUATION_RULES

    scenarios = [i.scenario for i in truth.interactions]
    assert set(SITUATION_RULES) <= set(scenarios)
    assert load_truth(tmp_path / "h").options.situation_cover == 13
    # staff stop serving for an urgent call and say the 七.1.10 phrase: the situation, said
    assert truth.interactions[0].scenario == "excused_call" and truth.interactions[0].situations == {"courtesy.urgent_leave": True}
    # a truth written before the cover existed reads as drawn by weight alone
    data = options.as_json()
    del data["situation_cover"]
    assert SimOptions.from_json(data).situation_cover == 0
