"""Queue system (叫号) call events: import, and re-scoring of recordings they fall into.

A call tells segmentation that a new citizen comes to the window, gives the interaction its
ticket number and, with the ticket's issue time, how long the citizen waited (the
``courtesy.sorry_for_wait`` situation). Re-importing a file changes nothing. A row may name the
matter (事项) and the citizen's ID: the ID is stored only as a salted hash
(:func:`scoring.store.repeat_visits.citizen_ref`), for the repeat-visit check run after the import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import QueueCall, Recording, RecordingStatus, Window
from models.rulebook import Rulebook
from models.workdays import WorkCalendar
from scoring.store.ratings import link_ratings
from scoring.store.recordings import rescore_recording
from scoring.store.repeat_visits import citizen_ref, flag_repeat_visits
from scoring.store.tabular import Rejected, RowLimits, parse_time, read_rows, record_import_run, text_value

log = logging.getLogger("scoring")

QUEUE_FIELDS: dict[str, tuple[str, ...]] = {
    "called_at": ("call_time", "time", "叫号时间", "呼叫时间", "时间"),
    "window": ("window_code", "窗口", "窗口号", "窗口编号"),
    "ticket_no": ("ticket", "number", "票号", "号码", "排队号", "取号号码"),
    "issued_at": ("issue_time", "ticket_time", "取号时间"),
    "matter": ("事项", "业务", "办理事项"),
    # hashed at import, never stored as read (scoring.store.repeat_visits)
    "citizen_id": ("id_number", "id_no", "身份证号", "身份证号码", "证件号码"),
}


@dataclass
class QueueImportReport:
    source: str
    imported: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rescored_recordings: int = 0
    citizen_refs: int = 0  # rows whose citizen ID was stored as a salted hash
    ids_dropped: int = 0  # rows with a citizen ID but no salt configured: the ID was not kept at all
    repeat_visit_flags: int = 0


def import_queue(
    session: Session, path: str | Path, rulebook: Rulebook, *, limits: RowLimits | None = None, today: datetime | None = None,
    citizen_salt: str | None = None, calendar: WorkCalendar | None = None,
) -> QueueImportReport:
    """Import a queue system export (CSV or JSON) and re-score the recordings it touches.

    Args:
        session: the caller's session.
        path: the export file.
        rulebook: for re-scoring.
        limits: bounds of a row (accepted dates, longest field); rows outside are rejected.
        today: the day the accepted dates are counted from (default: now).
        citizen_salt: the site's secret salt of citizen references (``Settings.citizen_ref_salt``);
            without it a row's citizen ID is dropped (counted in ``ids_dropped``).
        calendar: working days for the repeat-visit window (default: the national calendar).

    Raises:
        ImportFileError: the file cannot be read at all.
    """
    path = Path(path)
    limits = limits or RowLimits()
    day = (today or datetime.now()).date()
    report = QueueImportReport(source=str(path))
    windows = {w.code: w.id for w in session.scalars(select(Window))}
    seen: dict[tuple, int] = {}
    touched: dict[int, list[datetime]] = {}
    for row in read_rows(path, QUEUE_FIELDS, max_field_chars=limits.max_field_chars):
        f = row.fields
        try:
            if "_error" in f:
                raise ValueError(f["_error"])
            missing = [name for name in ("called_at", "window", "ticket_no") if name not in f]
            if missing:
                raise ValueError("missing " + ", ".join(missing))
            f = _row_fields(f)
            called_at = limits.check_time("called_at", parse_time(f["called_at"]), day)
            issued_at = limits.check_time("issued_at", parse_time(f["issued_at"]), day) if "issued_at" in f else None
            if issued_at is not None and issued_at > called_at:
                raise ValueError(f"ticket issued ({issued_at}) after it was called ({called_at})")
            code = str(f["window"])
            if code not in windows:
                raise ValueError(f"unknown window {code!r}")
            key = (windows[code], str(f["ticket_no"]), called_at)
            if key in seen:
                raise ValueError(f"same call already on line {seen[key]}")
            seen[key] = row.line
        except ValueError as exc:
            report.rejected.append(Rejected(row.line, str(exc)))
            continue
        old = session.scalar(
            select(QueueCall).where(QueueCall.window_id == key[0], QueueCall.ticket_no == key[1], QueueCall.called_at == key[2])
        )
        if old is not None:
            report.unchanged += 1
            continue
        ref = _citizen_ref(f.get("citizen_id"), citizen_salt, report)
        session.add(QueueCall(window_id=key[0], ticket_no=key[1], called_at=called_at, issued_at=issued_at, matter=f.get("matter"),
                              citizen_ref=ref))
        touched.setdefault(key[0], []).append(called_at)
        report.imported += 1
    session.flush()
    for window_id, times in touched.items():
        report.rescored_recordings += _rescore_window(session, rulebook, window_id, min(times), max(times))
    if touched:
        first = min(min(times) for times in touched.values())
        report.repeat_visit_flags = flag_repeat_visits(session, rulebook, calendar, since=first)
    record_import_run(session, "queue", path, report)
    log.info("queue %s: %d imported, %d unchanged, %d rejected", path, report.imported, report.unchanged, len(report.rejected))
    return report


def _citizen_ref(raw: object, salt: str | None, report: QueueImportReport) -> str | None:
    # The raw ID goes no further than this function.
    text = str(raw).strip() if raw is not None else ""
    if not text:
        return None
    if not salt:
        report.ids_dropped += 1
        return None
    report.citizen_refs += 1
    return citizen_ref(text, salt)


def _row_fields(f: dict) -> dict:
    # Text as the columns hold it on every backend (a JSON export may carry numbers or objects).
    columns = {"window": Window.code, "ticket_no": QueueCall.ticket_no, "matter": QueueCall.matter}
    return {**f, **{name: text_value(name, f[name], column) for name, column in columns.items() if f.get(name) is not None}}


def _rescore_window(session: Session, rulebook: Rulebook, window_id: int, start: datetime, end: datetime) -> int:
    # Recordings of this window that may contain these calls (a recording lasts at most a day).
    recordings = session.scalars(
        select(Recording).where(
            Recording.window_id == window_id,
            Recording.status == RecordingStatus.DONE,
            Recording.started_at <= end,
            Recording.started_at >= start - timedelta(days=1),
        )
    ).all()
    count = 0
    for recording in recordings:
        duration = timedelta(seconds=recording.duration_s or 0)
        if recording.started_at + duration < start:
            continue
        rescore_recording(session, recording, rulebook)
        link_ratings(session, rulebook, window_id=window_id, start=recording.started_at, end=recording.started_at + duration + timedelta(hours=1))
        count += 1
    return count
