"""Read the CSV / JSON exports of the hall's other systems (evaluation terminal, queue system).

Rows come back as dicts keyed by our field names (the export's header is mapped through
aliases, Chinese or English), each with the line number it came from, so that a rejected row
can be named. CSV may be UTF-8 (with or without BOM) or GB18030, as Chinese exports often are.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from models.settings import Settings


class ImportFileError(ValueError):
    """A whole file that cannot be read; the message names the file and the reason."""

    @classmethod
    def from_database(cls, path: str | Path, exc: Exception) -> "ImportFileError":
        """The reason a file was not imported when the store refused it (locked, full, unreachable).

        The caller's transaction was rolled back, so nothing of the file was written.
        """
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if "database is locked" in detail or "database is busy" in detail:
            return cls(f"{path}: database is locked by another program; nothing of this file was imported, run the import again later")
        return cls(f"{path}: the database refused the file ({detail}); nothing of this file was imported")


@dataclass(frozen=True)
class RowLimits:
    """What one row of an export may hold; a row outside these bounds is rejected, the rest imported.

    The defaults are the ``import_*`` settings' defaults; a site sets them there.

    Attributes:
        earliest: the earliest day a time in a row may carry (1900 or 0001 are placeholders of
            broken exports, not history of this hall).
        days_ahead: how many days after today a time may lie (terminal clocks drift, not by years).
        max_field_chars: the longest field; a longer one is a broken or hostile export, and csv
            would otherwise end the whole file at its 128 KiB limit.
    """

    earliest: date = Settings.model_fields["import_earliest_date"].default
    days_ahead: int = Settings.model_fields["import_days_ahead"].default
    max_field_chars: int = Settings.model_fields["import_max_field_chars"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> "RowLimits":
        return cls(settings.import_earliest_date, settings.import_days_ahead, settings.import_max_field_chars)

    def check_time(self, name: str, at: datetime, today: date) -> datetime:
        """``at`` when it lies between ``earliest`` and ``days_ahead`` after ``today``.

        Raises:
            ValueError: outside; the message is the row's reason.
        """
        latest = today + timedelta(days=self.days_ahead)
        if not self.earliest <= at.date() <= latest:
            raise ValueError(f"{name} {at:%Y-%m-%d %H:%M:%S} is outside the accepted range {self.earliest} .. {latest}")
        return at


def text_value(name: str, value: Any, column: Any = None) -> str:
    """``value`` as text that ``column`` holds alike on SQLite and PostgreSQL.

    PostgreSQL refuses a value longer than its column (SQLite stores it), and a refusal there
    rolls back the whole file, so such a value is the row's reason instead.

    Raises:
        ValueError: a JSON object or list, or longer than the column.
    """
    if isinstance(value, (dict, list)):
        raise ValueError(f"{name} must be text, not a JSON {'object' if isinstance(value, dict) else 'list'}")
    text = str(value)
    length = getattr(getattr(column, "type", None), "length", None)
    if length is not None and len(text) > length:
        raise ValueError(f"{name} is {len(text)} characters long (at most {length})")
    return text


@dataclass(frozen=True)
class SourceRow:
    """One row of an export: its 1-based line (CSV/JSON lines) or record number, and its fields."""

    line: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A row that was not imported, with the reason."""

    line: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"{path}: neither UTF-8 nor GB18030 text")


def read_rows(path: str | Path, aliases: dict[str, tuple[str, ...]], *, max_field_chars: int | None = None) -> Iterator[SourceRow]:
    """Yield the rows of a CSV, JSON (a list, or {"rows": [...]}) or JSON-lines file.

    A row with a field longer than ``max_field_chars`` or with a NUL character (PostgreSQL
    cannot store it) comes back as ``{"_error": reason}`` only.

    Args:
        path: the export.
        aliases: our field name -> header names that mean it (compared case-insensitively).
        max_field_chars: the longest field (default: :class:`RowLimits`).

    Raises:
        ImportFileError: missing, unreadable or not CSV/JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: file not found")
    text = _decode(path)
    lookup = {a.strip().lower(): name for name, names in aliases.items() for a in (name, *names)}
    limit = RowLimits().max_field_chars if max_field_chars is None else max_field_chars

    def mapped(record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in record.items():
            if key is None:
                continue
            if isinstance(value, str) and (len(value) > limit or "\x00" in value):
                name = str(key).strip()[:40]
                if len(value) > limit:
                    return {"_error": f"field {name!r} is {len(value)} characters long (at most {limit})"}
                return {"_error": f"field {name!r} contains a NUL character"}
            name = lookup.get(str(key).strip().lower())
            if isinstance(value, str):
                value = value.strip()
            if name is None:
                extra[str(key).strip()] = value
            elif value not in (None, ""):
                out[name] = value
        out["_extra"] = extra
        return out

    stripped = text.lstrip()
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson") or stripped[:1] in ("[", "{"):
        yield from _json_rows(path, stripped, mapped)
        return
    for line, record in _csv_records(path, text):
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        yield SourceRow(line, mapped(record))


_CSV_LIMIT_LOCK = threading.Lock()


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    # csv's field limit is process-wide and its error ends the file: lift it while this file is
    # read (eagerly, so that no other reader runs under it), and let read_rows reject long fields.
    with _CSV_LIMIT_LOCK:
        before = csv.field_size_limit(len(text) + 1)
        try:
            reader = csv.DictReader(io.StringIO(text))
            if not reader.fieldnames:
                raise ImportFileError(f"{path}: empty file, no header line")
            records = []
            for record in reader:
                records.append((reader.line_num, record))
        except csv.Error as exc:
            raise ImportFileError(f"{path}: line {reader.line_num}: not CSV: {exc}") from None
        finally:
            csv.field_size_limit(before)
    return records


def _json_rows(path: Path, text: str, mapped) -> Iterator[SourceRow]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if data is None:  # JSON lines
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield SourceRow(number, {"_error": f"not JSON: {exc.msg}"})
                continue
            yield SourceRow(number, mapped(record) if isinstance(record, dict) else {"_error": "not a JSON object"})
        return
    if isinstance(data, dict):
        data = data.get("rows") or data.get("data") or data.get("records")
    if not isinstance(data, list):
        raise ImportFileError(f"{path}: JSON must be a list of objects (or {{\"rows\": [...]}})")
    for number, record in enumerate(data, start=1):
        yield SourceRow(number, mapped(record) if isinstance(record, dict) else {"_error": "not a JSON object"})


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S")


def parse_time(value: Any) -> datetime:
    """Parse an export's local time (ISO 8601 or the usual Chinese layouts), naive local.

    Raises:
        ValueError: not a time we can read.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is not None:
            # Exports in another offset are converted to the hall's time (UTC+8, no DST in China).
            from datetime import timezone

            parsed = parsed.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
        return parsed
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past year 9999 in the hall's time
        raise ValueError(f"cannot read time {text!r} (outside the calendar)") from None
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"cannot read time {text!r} (expected e.g. 2026-03-02 09:15:00)")


def row_key(fields: dict[str, Any]) -> str:
    """A stable key for a row without a serial number: hash of its sorted fields."""
    clean = {k: v for k, v in fields.items() if not k.startswith("_")}
    return "h:" + hashlib.sha1(json.dumps(clean, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:24]


def seen_before(session, kind: str, digest: str) -> bool:
    """Whether a file with this content was imported (or rejected) before: a re-run records nothing."""
    from sqlalchemy import select

    from models.db import ImportRun

    return session.scalar(select(ImportRun.id).where(ImportRun.kind == kind, ImportRun.content_hash == digest).limit(1)) is not None


def record_import_run(session, kind: str, path: Path, report) -> None:
    """Log an import in ``import_run`` unless it changed nothing and its file was seen before.

    ``report`` has ``imported``, ``unchanged`` and ``rejected`` (a list of :class:`Rejected`).
    """
    from models.db import ImportRun

    digest = file_hash(path)
    if report.imported or (report.rejected and not seen_before(session, kind, digest)):
        session.add(
            ImportRun(
                kind=kind,
                source=str(path),
                content_hash=digest,
                rows_imported=report.imported,
                rows_unchanged=report.unchanged,
                rows_rejected=len(report.rejected),
                rejects=[r.as_json() for r in report.rejected],
            )
        )
