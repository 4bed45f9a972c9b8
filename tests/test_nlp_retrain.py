"""`windowqa nlp retrain`: inspectors' decisions become training lines of the classifier."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from _dashboard_support import PASSWORD, populate, staff_id
from models.db import Flag, FlagKind, make_session_factory, init_db, make_engine
from models.rulebook import load_rulebook
from models.settings import Settings
from scoring import access
from scoring.accounts import authenticate
from windowqa.cli import app
from windowqa.engines import retrained_classifier_path, site_matcher

RB = load_rulebook()


def test_retrain_uses_reviews_and_is_picked_up(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'hall.db'}"
    factory = make_session_factory(init_db(make_engine(url)))
    populate(factory, tmp_path / "archive")
    with factory() as s, s.begin():
        inspector = authenticate(s, "insp", PASSWORD)
        flags = s.scalars(select(Flag).where(Flag.kind == FlagKind.FORBIDDEN, Flag.staff_id == staff_id(s, "1001"))).all()
        access.decide_flag(s, inspector, flags[0].id, "dismiss", reason="说的是流程")
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["nlp", "retrain", "--db", url, "--check", "tests/data/phrases/holdout.tsv"])
    assert result.exit_code == 0, result.output
    assert "1 from reviews" in result.stdout and "check forbidden" in result.stdout

    settings = Settings(data_dir=tmp_path / "data")
    path = retrained_classifier_path(settings)
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["reviewed_lines"] == 1 and meta["rulebook_version"] == RB.version
    matcher = site_matcher(settings, RB)
    import joblib

    saved = joblib.load(path)
    assert (matcher.classifier.model_.coef_ == saved.model_.coef_).all()

    # a model made for another rulebook version is not used: the shipped corpus is trained instead
    meta["rulebook_version"] = "other"
    path.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    fallback = site_matcher(settings, RB)
    assert fallback.classifier is not None and fallback.classifier is not matcher.classifier
