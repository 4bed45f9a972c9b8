"""Exports never turn data into formulas: site names like ``=cmd|' /C calc'!A0`` stay text.

``windowqa report`` (CSV and xlsx), the monthly circular (xlsx), the attendance report and the
shared cell writer, on the dashboard test hall with hostile names planted (tests/_privacy_support.py).
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from _dashboard_support import build_hall
from _privacy_support import FORMULA, FORMULAS, csv_dangerous, plant, xlsx_formulas, xlsx_text
from models.db import UserRole, make_engine, make_session_factory
from models.export_cells import append_row, csv_field, write_csv
from models.rulebook import load_rulebook
from scoring import access
from scoring.accounts import Actor
from windowqa.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    hall = build_hall(tmp_path_factory.mktemp("export-hall"))
    plant(make_session_factory(make_engine(hall.url)))
    return hall


def test_cells_follow_the_owasp_rules():
    assert [csv_field(v) for v in (FORMULA, "+1", "-x", "@a", "\tx", "\rx", "ok", 3, -2.5, None, True)] == [
        "'" + FORMULA, "'+1", "'-x", "'@a", "'\tx", "'\rx", "ok", 3, -2.5, "", True]
    out = io.StringIO()
    write_csv(out, ["name", "n"], [[FORMULA, -3], ['a "quoted", name', 1.5]])
    assert out.getvalue().splitlines() == ['"name","n"', f'"\'{FORMULA}",-3', '"a ""quoted"", name",1.5']
    book = Workbook()
    cells = append_row(book.active, [FORMULA, 1, -2.5, None, "\x01bad"])
    buf = io.BytesIO()
    book.save(buf)
    assert not xlsx_formulas(buf.getvalue())
    assert [c.value for c in cells] == [FORMULA, 1, -2.5, None, "bad"] and cells[1].data_type == "n"


@pytest.mark.parametrize("group", ["staff", "window", "department"])
def test_cli_report_writes_names_as_text(hall, group, tmp_path, monkeypatch):
    monkeypatch.setenv("WINDOWQA_DATABASE_URL", hall.url)
    out = tmp_path / f"{group}.xlsx"
    result = runner.invoke(app, ["report", group, "--month", "2026-03", "--format", "xlsx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert not xlsx_formulas(data)
    assert FORMULA in xlsx_text(data)  # the name is there, as text
    result = runner.invoke(app, ["report", group, "--month", "2026-03", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert not csv_dangerous(result.output)
    assert any(FORMULA in field for row in csv.reader(io.StringIO(result.output)) for field in row)


def test_circular_xlsx_has_no_formula_cells(hall):
    factory = make_session_factory(make_engine(hall.url))
    with factory() as s:
        mgr = Actor(0, "mgr", UserRole.MANAGER, None, None)
        circular = access.monthly_circular(s, mgr, "2026-03", load_rulebook())
        buf = io.BytesIO()
        access.write_circular_xlsx(circular, buf)
    data = buf.getvalue()
    assert not xlsx_formulas(data)
    text = xlsx_text(data)
    assert any(f in text for f in FORMULAS)


def test_attendance_report_writes_names_as_text(tmp_path):
    from attendance.report import render_csv, write_xlsx

    class Line:  # a StaffMonth/WindowMonth look-alike carrying a hostile name in every column
        punctuality_rate = None

        def __getattr__(self, name):
            return FORMULA

    path = write_xlsx(tmp_path / "a.xlsx", [Line()], [Line()], "2026-03")
    assert not xlsx_formulas(path.read_bytes())
    assert not csv_dangerous(render_csv([Line()], [Line()]))
