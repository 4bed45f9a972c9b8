"""The schema: Alembic migrations create exactly the models' tables, run once, never drop."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from _store_support import db_url, pg_url, sqlite_url  # noqa: F401
from models.transcript_search import alembic_include_name
from models.db import Base, Department, init_db, make_engine, make_session_factory, open_database, schema_is_current

ROOT = Path(__file__).resolve().parents[1]

for _module in ("models.attendance_db", "models.voice_db", "models.review_db", "models.feedback_db", "models.management_db", "models.alert_db"):
    try:  # other packages' tables live on the same Base; their migrations must match too
        importlib.import_module(_module)
    except ModuleNotFoundError:
        pass


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    assert not schema_is_current(engine)
    init_db(engine)
    assert schema_is_current(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": alembic_include_name})  # the FTS/GIN search index
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_first_use_creates_then_keeps_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'windowqa.db'}"
    factory = open_database(url)
    with factory() as s, s.begin():
        s.add(Department(code="X", name="某局"))
    # a second open (next CLI run) migrates nothing and keeps the rows
    factory = open_database(url)
    with factory() as s:
        assert [d.name for d in s.query(Department)] == ["某局"]
    assert (tmp_path / "sub" / "windowqa.db").is_file()


def test_upgrade_from_the_first_revision_keeps_rows(tmp_path):
    from alembic import command

    from models.db import _alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001_core")
        connection.execute(text("INSERT INTO department (code, name) VALUES ('OLD', '旧部门')"))
    assert "served" not in {c["name"] for c in inspect(engine).get_columns("interaction")}
    init_db(engine)
    assert "served" in {c["name"] for c in inspect(engine).get_columns("interaction")}
    with make_session_factory(engine)() as s:
        assert s.query(Department).one().code == "OLD"


def test_no_code_drops_the_schema():
    offenders = [
        str(p.relative_to(ROOT))
        for package in ("models", "scoring", "windowqa", "dashboard", "attendance")
        for p in (ROOT / package).rglob("*.py")
        if "drop_all(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
