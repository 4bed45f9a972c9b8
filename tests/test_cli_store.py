"""The store's command line through typer's CliRunner, on a real SQLite store in a temp data dir."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from _store_support import DATA, rulebook, store_fixture  # noqa: F401
from models.db import Window, open_database
from models.settings import Settings
from windowqa.cli import app

runner = CliRunner()


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WINDOWQA_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _ok(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_site_ratings_queue_report_flags_followups(cli_home, rulebook):
    out = _ok(["site", "load", str(DATA / "site" / "hall.toml")])
    assert "created 2 departments, 3 windows, 4 staff" in out
    assert "nothing new" in _ok(["site", "load", str(DATA / "site" / "hall.toml")])
    factory = open_database(Settings())
    with factory() as s, s.begin():
        a03 = s.scalar(select(Window).where(Window.code == "A03"))
        store_fixture(s, rulebook, "window-a03-morning.jsonl", window=a03, start=datetime(2026, 3, 2, 9))
    (cli_home / "codes.toml").write_text('[vendor_codes]\n"1" = "非常不满意"\n', encoding="utf-8")
    result = runner.invoke(app, ["ratings", "import", str(DATA / "ratings" / "terminal-2026-03-02.csv"), "--codes", str(cli_home / "codes.toml")])
    assert result.exit_code == 0, result.output
    assert "5 imported, 0 unchanged, 6 rejected; 4 linked, 1 unlinked, 2 follow-ups opened" in result.output
    assert "line 5: unknown level '很好'" in result.output
    again = runner.invoke(app, ["ratings", "import", str(DATA / "ratings" / "terminal-2026-03-02.csv"), "--codes", str(cli_home / "codes.toml")])
    assert "0 imported, 5 unchanged" in again.output

    (cli_home / "calls.csv").write_text("叫号时间,窗口,票号,取号时间\n2026-03-02 09:07:13,A03,A013,2026-03-02 08:42:13\n2026-03-02 09:08,A03,,\n", encoding="utf-8")
    result = runner.invoke(app, ["queue", "import", str(cli_home / "calls.csv")])
    assert "1 imported, 0 unchanged, 1 rejected; 1 recordings re-scored" in result.output and "line 3: missing ticket_no" in result.output

    table = _ok(["report", "staff", "--month", "2026-03"])
    assert "张敏" in table and "avg_score" in table
    csv_text = _ok(["report", "window", "--month", "2026-03", "--format", "csv", "--by", "day"])
    assert csv_text.splitlines()[1].startswith('"2026-03-02","A03","企业开办",6,')  # text quoted (OWASP), numbers plain
    _ok(["report", "department", "--month", "2026-03", "--format", "xlsx", "-o", str(cli_home / "dept.xlsx")])
    assert load_workbook(cli_home / "dept.xlsx").active["B2"].value == "SCJG"
    bad = runner.invoke(app, ["report", "staff", "--month", "March"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output

    flags = [json.loads(line) for line in _ok(["flags", "list", "--json", "--limit", "100"]).splitlines()]
    kinds = sorted({f["kind"] for f in flags})
    assert {"forbidden", "citizen_abuse", "missing_courtesy", "poor_rating", "staff_mismatch", "unlinked_rating"} <= set(kinds)
    forbidden = next(f for f in flags if f["kind"] == "forbidden")
    assert forbidden["evidence"]["start_s"] == 143.5 and forbidden["staff"] == "1001 张敏"
    assert "forbidden" in _ok(["flags", "list", "--kind", "forbidden"])
    assert runner.invoke(app, ["flags", "list", "--kind", "nonsense"]).exit_code == 2

    cases = _ok(["followups", "list"])
    assert "T0002" in cases and "T0008" in cases
    case_id = cases.split()[0].lstrip("#")
    assert "closed" in _ok(["followups", "update", case_id, "--step", "closed", "--note", "已回访"])
    assert runner.invoke(app, ["followups", "update", case_id, "--step", "closed"]).exit_code == 2

    explained = _ok(["explain", str(forbidden_interaction(factory))])
    assert "forbidden.already_told" in explained and "= score" in explained

    before = _ok(["report", "window", "--month", "2026-03", "--format", "csv"])
    assert "1 recordings re-scored" in _ok(["rescore", "--month", "2026-03", "--window", "A03"])
    assert _ok(["report", "window", "--month", "2026-03", "--format", "csv"]) == before
    assert "forbidden.already_told" in _ok(["explain", str(forbidden_interaction(factory))])


def forbidden_interaction(factory) -> int:
    from models.db import Flag, FlagKind

    with factory() as s:
        return s.scalar(select(Flag.interaction_id).where(Flag.kind == FlagKind.FORBIDDEN))
