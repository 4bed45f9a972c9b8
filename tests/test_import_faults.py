"""Hostile exports and faults around the tabular imports (ratings, queue calls), on real databases.

Each bad row costs only itself, with a reason a hall user can read; a database locked by another
program costs only its file, with a reason naming it. SQLite and PostgreSQL give the same result.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from datetime import datetime

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from _store_support import DATA, add_site, any_factory, db_url, pg_url, rulebook, sqlite_url  # noqa: F401
from models.db import ImportRun, QueueCall, Rating, Staff
from models.settings import Settings
from scoring.store.queue import import_queue
from scoring.store.ratings import RatingImportOptions, import_ratings
from scoring.store.tabular import RowLimits

TODAY = datetime(2026, 3, 3)
HEADER = "流水号,评价时间,窗口,工号,姓名,评价等级,dim_态度,dim_效率,评价内容,事项\n"
GOOD_1 = "G1,2026-03-02 09:01:10,A03,1001,张敏,满意,5,5,办得很快,营业执照变更\n"
GOOD_2 = "G2,2026-03-02 10:01:10,B01,1003,王芳,非常不满意,1,1,等太久,社保\n"


def _import(factory, tmp_path, rulebook, body: str, name: str = "export.csv", *, site: bool = True):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    with factory() as s, s.begin():
        if site:
            add_site(s, day=TODAY)
        return import_ratings(s, path, rulebook, today=TODAY)


def _serials(factory) -> list[str]:
    with factory() as s:
        return sorted(s.scalars(select(Rating.serial_no)))


def test_absurd_dates_are_rejected_rows_and_the_rest_imported(any_factory, rulebook, tmp_path):
    body = (
        GOOD_1
        + "F1,9999-12-31 23:59:59,A03,1001,张敏,非常不满意,1,1,,\n"
        + "F2,1900-01-01 09:00:00,A03,1001,张敏,满意,,,,\n"
        + "F3,2028-03-02 09:00:00,A03,1001,张敏,满意,,,,\n"  # two years ahead of TODAY
        + "F4,9999-12-31T23:59:59-05:00,A03,1001,张敏,满意,,,,\n"  # beyond year 9999 in the hall's time
        + GOOD_2
    )
    report = _import(any_factory, tmp_path, rulebook, body)
    assert report.imported == 2 and _serials(any_factory) == ["G1", "G2"]
    assert [r.line for r in report.rejected] == [3, 4, 5, 6]
    assert "cannot read time '9999-12-31T23:59:59-05:00'" in report.rejected.pop().reason
    assert all("rated_at" in r.reason and "2000-01-01" in r.reason and "2027-03-04" in r.reason for r in report.rejected)
    assert "9999-12-31" in report.rejected[0].reason and "1900-01-01" in report.rejected[1].reason
    # The range is an option: a site with older data widens it.
    wide = RowLimits(earliest=datetime(1900, 1, 1).date())
    with any_factory() as s, s.begin():
        again = import_ratings(s, tmp_path / "export.csv", rulebook, RatingImportOptions(limits=wide), today=TODAY)
    assert again.imported == 1 and [r.line for r in again.rejected] == [3, 5, 6]


def test_queue_absurd_dates_are_rejected_rows(any_factory, rulebook, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(
        "叫号时间,窗口,票号,取号时间\n"
        "2026-03-02 09:07:13,A03,A013,2026-03-02 08:42:13\n"
        "9999-12-31 23:59:59,A03,A014,\n"
        "2026-03-02 09:09:00,A03,A015,1900-01-01 08:00:00\n"
        "2026-03-02 09:10:00,A03,A016,\n",
        encoding="utf-8",
    )
    with any_factory() as s, s.begin():
        add_site(s, day=TODAY)
        report = import_queue(s, path, rulebook, today=TODAY)
    assert report.imported == 2 and [r.line for r in report.rejected] == [3, 4]
    assert "called_at 9999-12-31" in report.rejected[0].reason and "issued_at 1900-01-01" in report.rejected[1].reason
    with any_factory() as s:
        assert sorted(s.scalars(select(QueueCall.ticket_no))) == ["A013", "A016"]


def test_non_finite_dimension_scores_are_rejected_alike_on_sqlite_and_postgres(any_factory, rulebook, tmp_path):
    body = (
        GOOD_1
        + "N1,2026-03-02 09:02:00,A03,1001,张敏,满意,nan,5,,\n"
        + "N2,2026-03-02 09:03:00,A03,1001,张敏,满意,5,inf,,\n"
        + "N3,2026-03-02 09:04:00,A03,1001,张敏,满意,-Infinity,5,,\n"
        + "N4,2026-03-02 09:05:00,A03,1001,张敏,满意,1e999,5,,\n"
        + GOOD_2
    )
    report = _import(any_factory, tmp_path, rulebook, body)
    assert report.imported == 2 and _serials(any_factory) == ["G1", "G2"]
    assert [r.line for r in report.rejected] == [3, 4, 5, 6]
    assert "'态度'" in report.rejected[0].reason and "'效率'" in report.rejected[1].reason
    assert all("not a finite number" in r.reason for r in report.rejected)


def test_json_export_with_nan_scores_and_non_text_values(any_factory, rulebook, tmp_path):
    rows = [
        {"serial_no": "J1", "rated_at": "2026-03-02 09:01:00", "window": "A03", "staff_no": 1001, "level": "满意", "comment": 12345},
        {"serial_no": "J2", "rated_at": "2026-03-02 09:02:00", "window": "A03", "staff_no": "1001", "level": "满意", "dimensions": {"态度": float("nan")}},
        {"serial_no": "J3", "rated_at": "2026-03-02 09:03:00", "window": "A03", "staff_no": "1001", "level": "满意", "comment": {"a": 1}},
        {"serial_no": "J4", "rated_at": "2026-03-02 09:04:00", "window": "A03", "staff_no": "1001", "level": "满意", "dimensions": '{"态度": Infinity}'},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")  # json writes NaN as the terminal did
    with any_factory() as s, s.begin():
        add_site(s, day=TODAY)
        report = import_ratings(s, path, rulebook, today=TODAY)
    assert report.imported == 1 and [r.line for r in report.rejected] == [2, 3, 4]
    assert "comment" in report.rejected[1].reason and "text" in report.rejected[1].reason
    with any_factory() as s:
        rating = s.scalar(select(Rating))
        assert rating.serial_no == "J1" and rating.comment == "12345" and rating.terminal_staff_no == "1001"


def test_values_postgres_cannot_hold_are_rejected_rows_on_both(any_factory, rulebook, tmp_path):
    body = (
        GOOD_1
        + "S" * 201 + ",2026-03-02 09:02:00,A03,1001,张敏,满意,,,,\n"  # serial longer than its column
        + "L1,2026-03-02 09:03:00,A03,1001,张敏,满意,,,nul \x00 in a comment,\n"
        + "L2,2026-03-02 09:04:00,A03,1001,张敏,满意,,,," + "事" * 600 + "\n"
        + GOOD_2
    )
    report = _import(any_factory, tmp_path, rulebook, body)
    assert report.imported == 2 and _serials(any_factory) == ["G1", "G2"]
    assert [r.line for r in report.rejected] == [3, 4, 5]
    assert "serial_no is 201 characters long (at most 128)" in report.rejected[0].reason
    assert "评价内容" in report.rejected[1].reason and "NUL" in report.rejected[1].reason
    assert "matter is 600 characters long (at most 500)" in report.rejected[2].reason


def test_a_huge_comment_costs_only_its_row(any_factory, rulebook, tmp_path):
    huge = "差" * 2_000_000
    body = (
        GOOD_1
        + f"H1,2026-03-02 09:02:00,A03,1001,张敏,满意,,,{huge},\n"
        + 'M1,2026-03-02 09:03:00,A03,1001,张敏,满意,,,"两行的\n意见",\n'  # a quoted field over two lines still reads
        + GOOD_2
    )
    report = _import(any_factory, tmp_path, rulebook, body)
    assert report.imported == 3 and _serials(any_factory) == ["G1", "G2", "M1"]
    assert [(r.line, r.reason) for r in report.rejected] == [(3, "field '评价内容' is 2000000 characters long (at most 20000)")]
    with any_factory() as s:
        assert s.scalar(select(Rating.comment).where(Rating.serial_no == "M1")) == "两行的\n意见"
        run = s.scalar(select(ImportRun))
        assert run.rows_rejected == 1 and len(json.dumps(run.rejects)) < 1000  # the reason, not the field
    # The field bound is an option too.
    report = _import(any_factory, tmp_path, rulebook, GOOD_1.replace("G1", "G3").replace("办得很快", "x" * 30), name="short.csv", site=False)
    with any_factory() as s, s.begin():
        tight = import_ratings(s, tmp_path / "short.csv", rulebook, RatingImportOptions(limits=RowLimits(max_field_chars=25)), today=TODAY)
    assert report.imported == 1 and tight.imported == 0 and tight.unchanged == 0
    assert tight.rejected[0].reason == "field '评价内容' is 30 characters long (at most 25)"


def test_csv_limit_of_the_process_is_left_as_it_was(tmp_path, rulebook, any_factory):
    import csv

    before = csv.field_size_limit()
    _import(any_factory, tmp_path, rulebook, GOOD_1 + "H1,2026-03-02 09:02:00,A03,1001,张敏,满意,,,{},\n".format("x" * 300_000))
    assert csv.field_size_limit() == before


def test_site_csv_rows_with_a_huge_or_nul_field_are_rejected_with_that_reason(any_factory, rulebook, tmp_path):
    from scoring.store.site import load_site

    path = tmp_path / "staff.csv"
    path.write_text("工号,姓名,部门,窗口\n1009,赵新,SCJG,A03\n1010," + "赵" * 30_000 + ",SCJG,A03\n1011,钱\x00,SCJG,A03\n", encoding="utf-8")
    with any_factory() as s, s.begin():
        add_site(s, day=TODAY)
        report = load_site(s, path, rulebook)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "field '姓名' is 30000 characters long (at most 20000)"),
        (4, "field '姓名' contains a NUL character"),
    ]
    with any_factory() as s:
        assert s.scalar(select(func.count()).select_from(Staff)) == 4


# ---------------------------------------------------------------------------- locked database (CLI)

runner = CliRunner()


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WINDOWQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WINDOWQA_DATABASE_BUSY_TIMEOUT_S", "0.3")
    monkeypatch.delenv("WINDOWQA_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(_app(), ["site", "load", str(DATA / "site" / "hall.toml")])
    assert result.exit_code == 0, result.output
    return tmp_path


def _app():
    from windowqa.cli import app

    return app


def _db_file() -> str:
    return Settings().resolved_database_url.removeprefix("sqlite:///")


def _count(model) -> int:
    from models.db import open_database

    with open_database(Settings())() as s:
        return s.scalar(select(func.count()).select_from(model))


class _ReleaseOnFailure(logging.Handler):
    """Ends the other connection's lock as soon as the CLI gives up on a file, so the next file can write."""

    def __init__(self, holder: sqlite3.Connection):
        super().__init__(logging.INFO)
        self.holder = holder

    def emit(self, record: logging.LogRecord) -> None:
        if "database is locked" in record.getMessage() and self.holder.in_transaction:
            self.holder.rollback()


def test_locked_database_costs_only_the_file_it_hit(cli_home):
    first, second = cli_home / "first.csv", cli_home / "second.csv"
    first.write_text(HEADER + GOOD_1, encoding="utf-8")
    second.write_text(HEADER + GOOD_1.replace("G1", "G9").replace("09:01", "09:11"), encoding="utf-8")
    holder = sqlite3.connect(_db_file(), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    handler, logger = _ReleaseOnFailure(holder), logging.getLogger("windowqa")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        result = runner.invoke(_app(), ["ratings", "import", str(first), str(second)])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        holder.close()
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert f"{first}: database is locked" in result.output and "Traceback" not in result.output
    assert f"{second}: 1 imported" in result.output
    # Nothing of the locked file was written; importing it again now works.
    assert _count(Rating) == 1
    again = runner.invoke(_app(), ["ratings", "import", str(first)])
    assert again.exit_code == 0 and f"{first}: 1 imported" in again.output
    assert _count(Rating) == 2


def test_queue_import_and_site_load_while_another_process_holds_the_lock(cli_home):
    calls = cli_home / "calls.csv"
    calls.write_text("叫号时间,窗口,票号\n2026-03-02 09:07:13,A03,A013\n", encoding="utf-8")
    staff = cli_home / "staff.csv"
    staff.write_text("工号,姓名,部门,窗口\n1009,赵新,SCJG,A03\n", encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys\n"
         f"c = sqlite3.connect({_db_file()!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = runner.invoke(_app(), ["queue", "import", str(calls)])
        site = runner.invoke(_app(), ["site", "load", str(staff)])
    finally:
        holder.communicate("", timeout=30)
    assert result.exit_code == 1 and f"{calls}: database is locked" in result.output, result.output
    assert site.exit_code == 1 and f"{staff}: database is locked" in site.output, site.output
    for r in (result, site):
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert _count(QueueCall) == 0 and _count(Staff) == 4
    assert runner.invoke(_app(), ["queue", "import", str(calls)]).exit_code == 0
    assert runner.invoke(_app(), ["site", "load", str(staff)]).exit_code == 0
    assert _count(QueueCall) == 1 and _count(Staff) == 5
