"""Reading a leave file: bounded fields and dates, every bad row rejected with its reason.

The same rules as the ratings and queue imports (``scoring.store.tabular``), which attendance
may not import: a field longer than the limit or holding a NUL character, and a date outside
``import_earliest_date`` … today + ``import_days_ahead``, reject the row, never the file.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from models.attendance import HalfDay, LeaveExtension, LeaveRecord, LeaveStatus
from models.settings import Settings

_SETTINGS_DEFAULTS = Settings.model_fields


class LeaveFileError(ValueError):
    """A leave file that cannot be read at all."""


@dataclass(frozen=True)
class LeaveLimits:
    """Bounds of a leave row (the ``import_*`` settings).

    Attributes:
        max_field_chars: the longest field.
        earliest: rows with a date before this are rejected.
        days_ahead: ... and rows with a date more than this many days after ``today``.
        today: the reference day (None: the day of the import).
    """

    max_field_chars: int = field(default_factory=lambda: _SETTINGS_DEFAULTS["import_max_field_chars"].default)
    earliest: date = field(default_factory=lambda: _SETTINGS_DEFAULTS["import_earliest_date"].default)
    days_ahead: int = field(default_factory=lambda: _SETTINGS_DEFAULTS["import_days_ahead"].default)
    today: date | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, today: date | None = None) -> "LeaveLimits":
        return cls(settings.import_max_field_chars, settings.import_earliest_date, settings.import_days_ahead, today)

    @property
    def latest(self) -> date:
        return (self.today or date.today()) + timedelta(days=self.days_ahead)


def _cell(row: Mapping[str, str | None], key: str, default: str = "") -> str:
    return (row.get(key) or default).strip()


def leave_from_row(row: Mapping[str, str | None], leave_types: Sequence[str]) -> LeaveRecord:
    """One leave record from a row of a leave file or the demo's ground truth.

    Columns: staff, leave_type, start, end, status, and optionally start_half, end_half,
    extension_end, extension_status, deceptive, record_id, note (empty cells take the defaults).

    Raises:
        ValueError: an unknown leave type, a malformed date or status.
        KeyError: a required column is missing.
    """
    if row.get("leave_type") not in leave_types:
        raise ValueError(f"unknown leave type {row.get('leave_type')!r}; known: {', '.join(leave_types)}")
    ext = ()
    if _cell(row, "extension_end"):
        ext = (LeaveExtension(date.fromisoformat(_cell(row, "extension_end")),
                              LeaveStatus(_cell(row, "extension_status", "pending"))),)
    return LeaveRecord(
        staff_id=row["staff"].strip(), leave_type=row["leave_type"].strip(),
        start=date.fromisoformat(row["start"].strip()), end=date.fromisoformat(row["end"].strip()),
        status=LeaveStatus(_cell(row, "status", "pending")),
        start_half=HalfDay(_cell(row, "start_half", "morning")),
        end_half=HalfDay(_cell(row, "end_half", "afternoon")),
        extensions=ext, deceptive=_cell(row, "deceptive").lower() in ("1", "true", "yes", "是"),
        record_id=_cell(row, "record_id") or None, note=_cell(row, "note"),
    )


def _field_problem(row: Mapping[str | None, object], limit: int) -> str | None:
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]  # cells beyond the header
        for cell in values:
            if not isinstance(cell, str):
                continue
            name = str(key if key is not None else "(extra)").strip()[:40]
            if len(cell) > limit:
                return f"field {name!r} is {len(cell)} characters long (at most {limit})"
            if "\x00" in cell:
                return f"field {name!r} contains a NUL character"
    return None


def _dates_problem(record: LeaveRecord, limits: LeaveLimits) -> str | None:
    latest = limits.latest
    for day in (record.start, record.end, *(e.end for e in record.extensions)):
        if not limits.earliest <= day <= latest:
            return f"date {day.isoformat()} is outside {limits.earliest.isoformat()} … {latest.isoformat()}"
    return None


_CSV_LIMIT_LOCK = threading.Lock()


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    # csv's field limit is process-wide and its error ends the file: lift it while this file is
    # read (eagerly, under a lock), and reject long fields row by row afterwards.
    with _CSV_LIMIT_LOCK:
        before = csv.field_size_limit(len(text) + 1)
        try:
            reader = csv.DictReader(io.StringIO(text))
            return [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise LeaveFileError(f"{path}: line {reader.line_num}: not CSV: {exc}") from None
        finally:
            csv.field_size_limit(before)


def read_leave_file(path: Path, leave_types: Sequence[str], limits: LeaveLimits | None = None) -> tuple[list[LeaveRecord], list[str]]:
    """The leave records of a UTF-8 CSV with a header, and one message per rejected line.

    Args:
        path: the leave file.
        leave_types: the rulebook's leave types.
        limits: field and date bounds (default: the settings' defaults).

    Raises:
        LeaveFileError: the file cannot be read, is not UTF-8 or not CSV.
    """
    limits = limits or LeaveLimits()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LeaveFileError(f"{path}: cannot read: {exc}") from None
    records, errors = [], []
    for line, row in _csv_rows(path, text):
        problem = _field_problem(row, limits.max_field_chars)
        if problem is None:
            try:
                record = leave_from_row(row, leave_types)
            except (KeyError, ValueError, AttributeError) as exc:
                problem = str(exc) if not isinstance(exc, KeyError) else f"missing column {exc}"
            else:
                problem = _dates_problem(record, limits)
        if problem is None:
            records.append(record)
        else:
            errors.append(f"{path}:{line}: {problem}")
    return records, errors


__all__ = ["LeaveFileError", "LeaveLimits", "leave_from_row", "read_leave_file"]
