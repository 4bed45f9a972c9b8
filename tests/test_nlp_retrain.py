"""`windowqa nlp retrain | restore | versions`: reviews teach the classifier, a worse candidate is refused, versions are kept.

Real SQLite store (the dashboard tests' small hall), real sampled reviews and flag decisions,
the real classifier trained on the shipped corpus; the CLI as an operator runs it.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from _dashboard_support import PASSWORD, populate, staff_id
from models.db import Flag, FlagKind, Recording, RuleHitRow, Utterance, Window, init_db, make_engine, make_session_factory
from models.domain import Role
from models.domain import Utterance as DomainUtterance
from models.rulebook import load_rulebook
from models.settings import Settings
from nlp.model_store import SHIPPED
from scoring import access
from scoring.access.training import reviewed_utterances
from scoring.accounts import authenticate
from scoring.segment import MatchedUtterance
from scoring.store.recordings import store_recording
from windowqa.cli import app
from windowqa.engines import classifier_store, site_matcher

RB = load_rulebook()
HOLDOUT = "tests/data/phrases/holdout.tsv"
RULE = "forbidden.come_tomorrow"
NEUTRAL = "请把身份证放在读卡器上，再看一下屏幕"  # ordinary service talk: no rule may fire


@pytest.fixture(scope="module")
def data_dir_with_cache(tmp_path_factory, matcher, classifier_cache):
    """A fresh data directory per test whose classifier cache is shared: the shipped classifier is
    the session's fit (trained once per suite), copied in; retrained candidates stay in this module's cache."""
    import shutil

    cache = tmp_path_factory.mktemp("retrain-cache")
    for fit in classifier_cache.glob("phrase-classifier-*.joblib"):
        shutil.copy2(fit, cache / fit.name)

    def make(tmp_path):
        data = tmp_path / "data"
        data.mkdir()
        (data / "cache").symlink_to(cache, target_is_directory=True)
        return data

    return make


def _hall(tmp_path):
    url = f"sqlite:///{tmp_path / 'hall.db'}"
    factory = make_session_factory(init_db(make_engine(url)))
    populate(factory, tmp_path / "archive")
    return url, factory


def _review_one(factory, *, miss_rule: str, text: str | None = None):
    """An inspector reviews one sampled interaction: the first hit marked wrong, a missed phrase on a staff line."""
    with factory() as s, s.begin():
        insp = authenticate(s, "insp", PASSWORD)
        plan = access.create_plan(s, insp, access.PlanSpec(name="抽检", per_unit=50, seed=3, window_codes=("A03",)))
        access.draw_sample(s, insp, plan.id, "2026-03")
        item = next(i for i in access.assigned_reviews(s, insp) if not i.flagged)
        view = access.sampled_interaction(s, insp, item.sampled_id)
        line = next(x for x in view.lines if x.role == Role.STAFF.value and not any(h.utterance_seq == x.seq for h in view.hits))
        if text is not None:  # the line as the recognizer wrote it
            utterance = s.scalar(select(Utterance).where(Utterance.interaction_id == item.interaction_id, Utterance.seq == line.seq))
            utterance.text = text
        marks = {h.hit_id: True for h in view.hits}
        access.record_review(s, insp, item.sampled_id, marks, [access.MissSpec(miss_rule, "said", utterance_seq=line.seq)], RB)
        return line.seq


def test_reviews_become_redacted_training_lines(tmp_path):
    _, factory = _hall(tmp_path)
    with factory() as s, s.begin():
        inspector = authenticate(s, "insp", PASSWORD)
        flags = s.scalars(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, "1001"))).all()
        access.decide_flag(s, inspector, flags[0].id, "dismiss", reason="说的是流程")
    _review_one(factory, miss_rule="forbidden.go_to_leader", text="你打13912345678找领导反映吧")
    with factory() as s:
        lines = reviewed_utterances(s, authenticate(s, "insp", PASSWORD))
    dismissed = [x for x in lines if x.key.startswith("flag:")]
    assert len(dismissed) == 1 and dismissed[0].training_lines() == [(dismissed[0].text, "none")] and dismissed[0].not_said
    missed = [x for x in lines if "forbidden.go_to_leader" in x.said and x.key.startswith("sample:")]
    assert len(missed) == 1 and "13912345678" not in missed[0].text and "找领导反映吧" in missed[0].text
    confirmed = [x for x in lines if x.key.startswith("sample:") and x is not missed[0]]
    assert confirmed and all(x.said for x in confirmed)  # the interaction's hits, marked correct


def _far_field(line_id: str, rate: float, noise_seed: int) -> np.ndarray:
    """A bank line as a muffled far-field microphone hears it: another voice rate, low-passed, hall noise at 15 dB."""
    from windowqa.demo import load_bank, read_clip
    from windowqa.demo.simulator.mixing import _lowpass, db, hall_noise, voice

    bank = load_bank()
    babble = [read_clip(x) for x in bank if not x.expected and not x.optional][:40]
    audio = _lowpass(voice(read_clip(next(x for x in bank if x.id == line_id)), rate), 9)
    audio = audio / (np.sqrt(np.mean(audio**2)) + 1e-9) * db(-20)
    audio = np.concatenate([np.zeros(4000, np.float32), audio, np.zeros(4000, np.float32)])
    return (audio + hall_noise(len(audio), babble, np.random.default_rng(noise_seed), 0.3) * db(-20) / db(15)).astype(np.float32)


def test_a_missed_phrase_reviewed_is_found_in_new_audio_after_retrain_and_versions_restore(tmp_path, monkeypatch, transcriber, matcher,
                                                                                          data_dir_with_cache):
    # "我们马上下班了，明天再说吧" (forbidden.come_tomorrow) through a muffled microphone: the
    # recognizer hears 明天 as 您先, and the shipped classifier misses the line
    reviewed_text = transcriber.transcribe_segment(_far_field("s_long_wait_11", 0.96, 200)).text
    new_text = transcriber.transcribe_segment(_far_field("s_long_wait_11", 1.04, 201)).text
    assert new_text != reviewed_text and "明天" not in new_text, (reviewed_text, new_text)
    assert RULE not in {h.rule_id for h in matcher.match_many([new_text], role="staff")[0]}, new_text

    url, factory = _hall(tmp_path)
    _review_one(factory, miss_rule=RULE, text=reviewed_text)  # the inspector records the miss
    data = data_dir_with_cache(tmp_path)
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(data))
    settings = Settings(data_dir=data)
    store = classifier_store(settings)
    assert store.current_version() == SHIPPED

    result = CliRunner().invoke(app, ["nlp", "retrain", "--db", url, "--eval-set", HOLDOUT, "--holdout-share", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["accepted"] and report["version"] == store.current_version() != SHIPPED
    holdout = next(s for s in report["sources"] if s["name"] == HOLDOUT)
    assert holdout["lines"] == 243 and holdout["after"] == holdout["before"]  # the text evaluation set does not regress
    assert report["reviewed_train"] >= 1 and report["reviewed_held_back"] == 0
    meta = json.loads(store.current_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["version"] == report["version"] and meta["replaced"] == SHIPPED and meta["rulebook_version"] == RB.version

    # the retrained site matcher finds the wording in the new audio's transcript, and the hit names its classifier
    site = site_matcher(settings, RB)
    hit = next(h for h in site.match_many([new_text], role="staff")[0] if h.rule_id == RULE)
    assert hit.classifier_version == report["version"]
    with factory() as s, s.begin():  # down to the stored row
        window = s.scalar(select(Window).limit(1))
        rec = Recording(content_hash="retrain:test", path="x.flac", window_id=window.id, started_at=datetime(2026, 3, 4, 9), channels=1)
        s.add(rec)
        s.flush()
        said = DomainUtterance(text=new_text, role=Role.STAFF, start_s=1.0, end_s=3.0)
        store_recording(s, rec, [MatchedUtterance(0, said, (hit,), ())], RB)
    with factory() as s:
        assert s.scalar(select(RuleHitRow.classifier_version).order_by(RuleHitRow.id.desc()).limit(1)) == report["version"]

    # restore: the shipped classifier comes back, and restoring again brings the retrained one back
    restored = CliRunner().invoke(app, ["nlp", "restore"])
    assert restored.exit_code == 0 and store.current_version() == SHIPPED, restored.output
    assert site_matcher(settings, RB).classifier_version.startswith("shipped-")
    again = CliRunner().invoke(app, ["nlp", "restore"])
    assert again.exit_code == 0 and store.current_version() == report["version"], again.output
    assert site_matcher(settings, RB).classifier_version == report["version"]
    listing = CliRunner().invoke(app, ["nlp", "versions"])
    assert f"* {report['version']}" in listing.stdout
    assert [h["action"] for h in store.history()] == ["retrain", "restore", "restore"]
    bad = CliRunner().invoke(app, ["nlp", "restore", "no-such-version"])
    assert bad.exit_code != 0 and "no classifier version" in bad.output


def test_a_worse_candidate_is_refused_unless_forced(tmp_path, monkeypatch, data_dir_with_cache):
    url, factory = _hall(tmp_path)
    # an inspector's mistake: ordinary service talk recorded as a missed forbidden phrase
    _review_one(factory, miss_rule="forbidden.go_to_leader", text=NEUTRAL)
    manifest = tmp_path / "site.tsv"
    manifest.write_text(f"text\texpected\n{NEUTRAL}\t\n有意见你去找领导\tforbidden.go_to_leader\n", encoding="utf-8")
    data = data_dir_with_cache(tmp_path)
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(data))
    store = classifier_store(Settings(data_dir=data))
    args = ["nlp", "retrain", "--db", url, "--eval-set", str(manifest), "--holdout-share", "0"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1, refused.output
    assert "refused" in refused.stdout and "forbidden precision 1.000 -> 0.500" in refused.stdout
    assert store.current_version() == SHIPPED and not store.versions()
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0 and "FORCED" in forced.stdout
    assert store.versions()[0].metadata["forced"] is True and store.current_version() == store.versions()[0].version


def test_the_hold_out_is_seeded_and_keeps_whole_reviews():
    from nlp.retrain import split_reviews
    from scoring.access.training import ReviewedUtterance

    lines = [ReviewedUtterance(f"sample:{k // 2}", k, f"第{k}句", frozenset({RULE}), frozenset()) for k in range(20)]  # 10 reviews
    train, held = split_reviews(lines, 0.2, seed=4)
    assert len({x.key for x in held}) == 2 and len(held) == 4 and not {x.key for x in held} & {x.key for x in train}
    assert split_reviews(lines, 0.2, seed=4) == (train, held)
    assert len({frozenset(x.key for x in split_reviews(lines, 0.2, seed=k)[1]) for k in range(6)}) > 1  # the seed decides
    assert split_reviews(lines[:8], 0.2, seed=4)[1] == []  # four reviews: a fifth of them rounds down to none
