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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator


class ImportFileError(ValueError):
    """A whole file that cannot be read; the message names the file and the reason."""


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


def read_rows(path: str | Path, aliases: dict[str, tuple[str, ...]]) -> Iterator[SourceRow]:
    """Yield the rows of a CSV, JSON (a list, or {"rows": [...]}) or JSON-lines file.

    Args:
        path: the export.
        aliases: our field name -> header names that mean it (compared case-insensitively).

    Raises:
        ImportFileError: missing, unreadable or not CSV/JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: file not found")
    text = _decode(path)
    lookup = {a.strip().lower(): name for name, names in aliases.items() for a in (name, *names)}

    def mapped(record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in record.items():
            if key is None:
                continue
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
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ImportFileError(f"{path}: empty file, no header line")
    for record in reader:
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        yield SourceRow(reader.line_num, mapped(record))


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
            from datetime import timedelta, timezone

            parsed = parsed.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
        return parsed
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
