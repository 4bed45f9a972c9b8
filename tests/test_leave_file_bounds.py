"""Leave import (``windowqa attendance leave-import``): rows read with bounded fields and dates.

A field over Python's csv limit, a NUL character or an absurd date (1900, 9999) rejects its
row with a reason; the other rows are imported.
"""

from __future__ import annotations

import csv
from datetime import date

from attendance.services import read_leave_file
from models.rulebook import load_rulebook
from models.settings import Settings


def _write(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["staff", "leave_type", "start", "end", "status", "note", "record_id"])
        writer.writerows(rows)


def test_long_fields_and_absurd_dates_are_rejected_rows(tmp_path):
    leave_types = load_rulebook().attendance.leave_types
    path = tmp_path / "leave.csv"
    _write(path, [
        ["1001", "事假", "2026-03-02", "2026-03-03", "approved", "", "L1"],
        ["1002", "病假", "2026-03-02", "2026-03-02", "approved", "备" * 200_000, "L2"],  # over csv's 131072 limit
        ["1003", "年假", "2026-03-04", "9999-12-31", "approved", "", "L3"],
        ["1001", "年假", "1900-01-01", "1900-01-02", "approved", "", "L4"],
        ["1003", "事假", "2026-03-05", "2026-03-05", "approved", "a\x00b", "L5"],
        ["1002", "事假", "2026-03-06", "2026-03-06", "approved", "ok", "L6"],
    ])
    records, errors = read_leave_file(path, leave_types)  # default limits: the settings' defaults
    assert [r.record_id for r in records] == ["L1", "L6"]
    assert len(errors) == 4, errors
    assert "characters long" in errors[0] and ":3:" in errors[0]
    assert "9999-12-31" in errors[1] and "1900-01-01" in errors[2]
    assert "NUL" in errors[3]
    # the csv module's process-wide limit is as it was
    assert csv.field_size_limit() == 131072


def test_limits_follow_the_settings(tmp_path):
    from attendance.leave_file import LeaveLimits

    path = tmp_path / "leave.csv"
    _write(path, [["1001", "事假", "2026-05-02", "2026-05-03", "approved", "x" * 50, "L1"]])
    leave_types = load_rulebook().attendance.leave_types
    tight = LeaveLimits.from_settings(Settings(import_days_ahead=30, import_max_field_chars=20), today=date(2026, 3, 2))
    records, errors = read_leave_file(path, leave_types, tight)
    assert records == [] and len(errors) == 1 and "characters long" in errors[0]
    records, errors = read_leave_file(path, leave_types, LeaveLimits.from_settings(Settings(import_days_ahead=30), today=date(2026, 3, 2)))
    assert records == [] and "2026-05-02" in errors[0]


def test_leave_import_cli_rejects_rows_not_the_file(tmp_path):
    from typer.testing import CliRunner

    from windowqa.cli import app

    path = tmp_path / "leave.csv"
    _write(path, [
        ["1001", "事假", "2026-03-02", "2026-03-03", "approved", "备" * 200_000, "L1"],
        ["1001", "事假", "9999-12-31", "9999-12-31", "approved", "", "L2"],
    ])
    db = f"sqlite:///{tmp_path / 'w.db'}"
    result = CliRunner().invoke(app, ["attendance", "leave-import", str(path), "--db", db])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "0 leave record(s) imported, 2 rejected" in result.stdout, result.stdout
