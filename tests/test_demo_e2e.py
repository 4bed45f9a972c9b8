"""The demo end to end on a small hall: real Whisper, real matcher, real face engine, SQLite.

This is the CI version of ``windowqa demo --no-serve`` (two windows, a few interactions each),
followed by ``windowqa eval demo`` on what it stored.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from models.settings import Settings
from windowqa.demo.evaluate import evaluate_demo
from windowqa.demo.run import DemoError, DemoOptions, prepare_folder, run_demo
from windowqa.demo.simulator import HallSize, SimOptions

# Two windows, three citizens in the morning, a citizen and a telephone call in the afternoon;
# half of the citizens meet a forbidden phrase, so every family is exercised. The issue-15
# scenarios are named (the first served and phone slots), so the hall holds them whatever the
# library's weights: three private calls while serving, a work call answered without the
# greeting, a retort, a forbidden phrase, a work call, and a call answered with 喂 alone.
CONDUCT_SCENARIOS = ("personal_call", "work_call:no_call_greeting", "retort", "personal_call", "ordinary:forbidden",
                     "personal_call", "work_call", "phone_no_greeting")
SMALL = SimOptions(seed=11, size=HallSize(windows=2, interactions=5, days=1), forbidden_share=0.5, scenarios=CONDUCT_SCENARIOS)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, transcriber, matcher, rulebook):
    folder = tmp_path_factory.mktemp("demo") / "hall"
    result = run_demo(DemoOptions(folder=folder, sim=SMALL, progress=False), settings=Settings(), rulebook=rulebook,
                      transcriber=transcriber, matcher=matcher)
    return result


def test_the_pipeline_stores_the_whole_day(demo):
    s = demo.summary
    assert s["recordings"] == 4 and not s["ingest"]["failed"]
    assert s["interactions"] >= 8 and s["utterances"] >= 40
    assert s["ratings_import"]["rejected"] == 0 and s["ratings_import"]["unlinked"] == 0
    assert s["hits"].get("courtesy", 0) > 0 and s["hits"].get("forbidden", 0) > 0
    assert s["flags"].get("forbidden", 0) > 0
    # four roles, each password shown once and stored only as a bcrypt hash
    assert [a[0] for a in demo.accounts] == ["admin", "manager", "inspector", "staff"]
    from sqlalchemy import select

    from models.db import UserAccount, open_database

    with open_database(demo.database_url)() as session:
        hashes = list(session.scalars(select(UserAccount.password_hash)))
    assert len(hashes) == 4 and all(h.startswith("$2") for h in hashes)
    assert not any(password in h for h in hashes for _, _, password, _ in demo.accounts)


def test_the_substitute_is_filed_through_the_site_file(demo, rulebook):
    """替岗备案: the filing time reaches the store through the site file, so the substitute counts as filed."""
    from sqlalchemy import select

    from attendance.store import load_substitutes
    from models.db import Substitution, open_database
    from windowqa.demo.simulator import load_truth

    truth = load_truth(demo.folder)
    with open_database(demo.database_url)() as session:
        stored = {(r.starts_at, r.filed_at) for r in session.scalars(select(Substitution))}
        subs = load_substitutes(session, truth.days[0], truth.days[-1], rulebook)
    assert stored == {(s.starts_at, s.filed_at) for s in truth.substitutes}
    assert subs and all(s.filed for s in subs)


def test_what_was_stored_matches_the_ground_truth(demo, rulebook):
    report = evaluate_demo(demo.folder, rulebook=rulebook)
    m = report["metrics"]
    assert m["attendance_accuracy"] == 1.0, report["attendance"]["wrong"]
    assert report["attendance"]["unknown_faces"]["recorded_as_unknown"] == report["attendance"]["unknown_faces"]["expected"] == 1
    assert m["rating_link_accuracy"] == 1.0, report["rating_links"]["wrong"]
    assert m["attribution_accuracy"] >= 0.9, report["attribution"]["wrong"]
    assert m["segmentation_accuracy"] >= 0.8, report["segmentation"]["errors"]
    assert m["required_courtesy_recall"] >= 0.8, report["phrases"]["families"]["courtesy"]["missed_examples"]
    assert m["forbidden_precision"] >= 0.8, report["phrases"]["families"]["forbidden"]["false_examples"]
    assert m["forbidden_recall"] >= 0.6, report["phrases"]["families"]["forbidden"]["missed_examples"]


def test_eval_demo_command_prints_json_and_table(demo):
    from windowqa.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["eval", "demo", str(demo.folder), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data["metrics"]) >= {"forbidden_precision", "forbidden_recall", "segmentation_accuracy", "attendance_accuracy"}
    table = runner.invoke(app, ["eval", "demo", str(demo.folder)])
    assert table.exit_code == 0 and "segmentation" in table.output and "rating links" in table.output


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(DemoError, match="not made by"):
        prepare_folder(tmp_path)
    assert (tmp_path / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_bad_size_and_missing_folder_are_clear_errors(tmp_path):
    from windowqa.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["demo", "--dir", str(tmp_path / "d"), "--size", "huge", "--no-serve"])
    assert out.exit_code == 2 and "size 'huge'" in out.output
    out = runner.invoke(app, ["eval", "demo", str(tmp_path)])
    assert out.exit_code == 2 and "no ground truth" in out.output
    out = runner.invoke(app, ["demo", "--dir", str(tmp_path), "--serve-only"])
    assert out.exit_code == 2 and "no finished demo run" in out.output


def test_the_dashboard_opens_on_the_demo_store(demo, monkeypatch):
    """The app as `windowqa demo` starts it: demo accounts log in, the data and attendance are there."""
    testing = pytest.importorskip("streamlit.testing.v1")
    from pathlib import Path

    monkeypatch.setenv("WINDOWQA_DATABASE_URL", demo.database_url)
    monkeypatch.setenv("WINDOWQA_ARCHIVE_DIR", str(demo.folder))
    passwords = {user: password for _, user, password, _ in demo.accounts}
    entry = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"

    def login(user):
        at = testing.AppTest.from_file(str(entry), default_timeout=90)
        at.run()
        at.text_input(key="login_user").input(user)
        at.text_input(key="login_password").input(passwords[user])
        at.button[0].click()
        at.run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        return at

    at = login("demo-inspector")
    at.switch_page("app_pages/queue.py")
    at.run()
    assert not at.exception and len(at.dataframe[0].value) == sum(demo.summary["flags"].values())
    at = login("demo-admin")
    at.switch_page("app_pages/attendance.py")
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert not at.exception and metrics, [e.value for e in at.error]
    # the demo stored its attendance through the last simulated day: nobody is absent without leave
    assert any("旷工" in label and value.startswith("0") for label, value in metrics.items()), metrics
    assert any(f"统计至 {demo.summary['days'][-1]}" in c.value for c in at.caption)


def test_the_conduct_checks_on_the_mixed_audio(demo, rulebook):
    """Issue 15 through the real pipeline: three private calls while serving, a work call answered
    without the greeting (七.2.1), two citizens back for the same matter; the IDs stay out of the store."""
    from windowqa.demo.simulator import load_truth

    report = evaluate_demo(demo.folder, rulebook=rulebook)
    conduct = report["conduct"]
    # a work call is no personal call: its ticket (企业开办) speaks for the matter when Whisper mishears the citizen's words
    assert conduct["personal_call"]["true"] == 3 and conduct["personal_call"]["false"] == 0, conduct["personal_call"]
    assert conduct["telephone"]["false"] == 0 and conduct["telephone"]["true"] >= 1, conduct["telephone"]
    assert conduct["retort"]["true"] >= 1 and conduct["retort"]["false"] == 0, conduct["retort"]
    visits = conduct["repeat_visit"]
    assert visits["true"] == 2 and visits["false"] == 0 and visits["linked"] == 2, visits
    stored = b"".join(p.read_bytes() for p in demo.folder.glob("windowqa.db*"))
    ids = {q.citizen_id for q in load_truth(demo.folder).queue_calls}
    assert ids and not any(i.encode() in stored for i in ids)
def test_demo_review_closes_the_field_loop(demo, tmp_path, monkeypatch, seed_classifier_cache):
    """`windowqa demo --review-only`: the truth-knowing inspector reviews every interaction (share 1.0) and retrains;
    the field estimates then equal the true values exactly, and `eval demo` says the intervals contain them."""
    import shutil
    import sqlite3

    from windowqa.cli import app

    folder = tmp_path / "reviewed"
    folder.mkdir()
    for name in ("truth.json", ".windowqa-demo"):
        shutil.copy(demo.folder / name, folder / name)
    with sqlite3.connect(demo.folder / "windowqa.db") as source, sqlite3.connect(folder / "windowqa.db") as target:
        source.backup(target)  # a copy: the module's other tests keep the unreviewed store
    seed_classifier_cache(tmp_path / "data")  # the shipped fit the retrain starts from: the session's, not trained again
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    out = CliRunner().invoke(app, ["demo", "--dir", str(folder), "--review-only", "--review-share", "1.0", "--seed", "3", "--json"])
    assert out.exit_code == 0, out.output
    review = json.loads(out.output)
    draw = review["draws"][0]
    assert draw["drawn"] == draw["population"] == review["reviewed"] > 0
    assert review["marks"]["correct"] > 0 and review["retrain"]["sources"][0]["name"].endswith("holdout.tsv")
    assert (folder / "models" / "phrase-classifier-versions" / "history.json").exists() == (review["retrain"]["version"] is not None)
    assert not (tmp_path / "data" / "models").exists()  # the demo never touches the site's model store

    report = json.loads(CliRunner().invoke(app, ["eval", "demo", str(folder), "--json"]).output)
    [month] = report["field"]
    assert month["reviewed"] == month["drawn"] == month["population"] == review["reviewed"]
    for name in ("forbidden", "required_courtesy"):
        for measure in ("precision", "recall"):
            m = month["groups"][name][measure]
            if m["true"] is None:
                continue
            assert m["field"]["value"] == pytest.approx(m["true"], abs=1e-3) and m["contained"], (name, measure, m)
    assert month["groups"]["required_courtesy"]["recall"]["field"]["n"] > 0
    table = CliRunner().invoke(app, ["eval", "demo", str(folder)])
    assert "field estimates" in table.output and "required_courtesy" in table.output
