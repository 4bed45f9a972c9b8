"""Evaluation terminal (好差评) ratings: import, validation, linking, 工号 check and follow-ups.

``import_ratings`` validates every row, rejects malformed ones with their line number and
reason and imports the rest; re-importing a file changes nothing (serial numbers, or a hash of
the row where the export has none). Each rating is linked to the interaction it rates: same
window, the interaction under way or ended at most ``[ratings].link_window_minutes`` before.
A 差评 (a level in ``[ratings].poor``) opens a follow-up case due in
``follow_up_working_days`` working days and raises a flag; a terminal 工号 or name that is not
the staff member actually serving raises a flag (the seed asks that they match).
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import (
    Flag,
    FlagKind,
    FlagStatus,
    FollowUp,
    FollowUpStatus,
    Interaction,
    Rating,
    RatingLinkStatus,
    Staff,
    Window,
)
from models.rulebook import Rulebook
from scoring.duty import DutyTable
from scoring.store.flags import raise_flag
from scoring.store.tabular import Rejected, RowLimits, parse_time, read_rows, record_import_run, row_key, text_value
from models.workdays import add_working_days

log = logging.getLogger("scoring")

RATING_FIELDS: dict[str, tuple[str, ...]] = {
    "serial_no": ("serial", "serial_number", "流水号", "评价编号", "编号", "id"),
    "rated_at": ("time", "rated_time", "评价时间", "时间"),
    "window": ("window_code", "窗口", "窗口号", "窗口编号"),
    "staff_no": ("工号", "工作人员工号", "staff", "staff_id"),
    "staff_name": ("name", "姓名", "工作人员", "工作人员姓名"),
    "level": ("rating", "result", "评价等级", "满意度", "评价结果", "评价"),
    "comment": ("评价内容", "意见", "留言", "备注"),
    "matter": ("事项", "办理事项", "业务"),
    "dimensions": ("dimension_scores", "维度评分"),
}
_DIMENSION_PREFIXES = ("dim_", "维度_", "维度:", "维度：")


@dataclass(frozen=True)
class RatingImportOptions:
    """Options of a ratings import; ``vendor_codes`` adds to the rulebook's ``[ratings].vendor_codes``.

    ``limits`` bounds a row (accepted dates, longest field); rows outside are rejected.
    """

    vendor_codes: dict[str, str] = field(default_factory=dict)
    limits: RowLimits = field(default_factory=RowLimits)


@dataclass
class RatingImportReport:
    """What a ratings import did; ``rejected`` names each refused row and why."""

    source: str
    options: RatingImportOptions
    imported: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    linked: int = 0
    unlinked: list[str] = field(default_factory=list)  # serial numbers
    follow_ups_opened: int = 0
    flags_raised: int = 0


def _level(value: Any, rulebook: Rulebook, codes: dict[str, str]) -> tuple[str, str | None]:
    text = str(value).strip()
    if text in rulebook.ratings.levels:
        return text, None
    if text in codes:
        return codes[text], text
    known = ", ".join(rulebook.ratings.levels)
    hint = f" or a vendor code ({', '.join(codes)})" if codes else " (map vendor codes with [ratings].vendor_codes)"
    raise ValueError(f"unknown level {text!r}; expected one of {known}{hint}")


def _dimensions(fields: dict[str, Any]) -> dict[str, float] | None:
    dims: dict[str, Any] = {}
    raw = fields.get("dimensions")
    if isinstance(raw, str) and raw:
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"dimension scores are not JSON: {exc.msg}") from None
    if isinstance(raw, dict):
        dims.update(raw)
    elif raw not in (None, ""):
        raise ValueError("dimension scores must be an object of name: number")
    for key, value in fields.get("_extra", {}).items():
        for prefix in _DIMENSION_PREFIXES:
            if key.lower().startswith(prefix) and value not in (None, ""):
                dims[key[len(prefix) :]] = value
    out: dict[str, float] = {}
    for name, value in dims.items():
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"dimension score {name!r} is not a number: {value!r}") from None
        # nan/inf: SQLite stores them, PostgreSQL's JSON refuses them and with them the whole file.
        if not math.isfinite(out[str(name)]):
            raise ValueError(f"dimension score {name!r} is not a finite number: {value!r}")
    return out or None


def _row_fields(f: dict[str, Any]) -> dict[str, Any]:
    # Text as the columns hold it on every backend (a JSON export may carry numbers or objects).
    columns = {
        "serial_no": Rating.serial_no,
        "window": Window.code,
        "staff_no": Rating.terminal_staff_no,
        "staff_name": Rating.terminal_staff_name,
        "comment": Rating.comment,
        "matter": Rating.matter,
    }
    return {**f, **{name: text_value(name, f[name], column) for name, column in columns.items() if f.get(name) is not None}}


def import_ratings(
    session: Session,
    path: str | Path,
    rulebook: Rulebook,
    options: RatingImportOptions | None = None,
    *,
    today: datetime | None = None,
) -> RatingImportReport:
    """Import an evaluation terminal export (CSV or JSON) in the caller's transaction.

    Args:
        session: the caller's session.
        path: the export file.
        rulebook: levels, good/poor, vendor codes, link window and follow-up days.
        options: extra vendor code mapping.
        today: the day overdue follow-ups are checked against (default: now).

    Returns:
        Counts, rejected rows (line and reason), unlinked ratings.

    Raises:
        ImportFileError: the file cannot be read at all.
    """
    options = options or RatingImportOptions()
    path = Path(path)
    report = RatingImportReport(source=str(path), options=options)
    codes = {**rulebook.ratings.vendor_codes, **options.vendor_codes}
    day = (today or datetime.now()).date()
    valid = _valid_rows(session, path, rulebook, codes, report, options.limits, day)
    new = _add_new(session, path, valid, report)
    report.rejected.sort(key=lambda r: r.line)
    session.flush()
    report.imported = len(new)
    for rating in new:
        report.follow_ups_opened += _open_follow_up(session, rating, rulebook)
    session.flush()
    linked, unlinked, flags = link_ratings(session, rulebook, ratings=new)
    report.linked, report.unlinked = linked, unlinked
    report.flags_raised += flags + sum(1 for r in new if r.is_poor)
    record_import_run(session, "ratings", path, report)
    flag_overdue_follow_ups(session, day)
    log.info("ratings %s: %d imported, %d unchanged, %d rejected", path, report.imported, report.unchanged, len(report.rejected))
    return report


def _valid_rows(session: Session, path: Path, rulebook: Rulebook, codes: dict[str, str], report: RatingImportReport,
                limits: RowLimits, day: date) -> list[tuple[int, dict[str, Any]]]:
    # The file's rows as Rating fields (with their line); rejected rows go to the report.
    windows = {w.code: w.id for w in session.scalars(select(Window))}
    seen: dict[str, int] = {}
    valid: list[tuple[int, dict[str, Any]]] = []
    for row in read_rows(path, RATING_FIELDS, max_field_chars=limits.max_field_chars):
        f = row.fields
        try:
            if "_error" in f:
                raise ValueError(f["_error"])
            missing = [name for name in ("rated_at", "window", "staff_no", "level") if name not in f]
            if missing:
                raise ValueError("missing " + ", ".join(missing))
            f = _row_fields(f)
            rated_at = limits.check_time("rated_at", parse_time(f["rated_at"]), day)
            window_code = str(f["window"])
            if window_code not in windows:
                raise ValueError(f"unknown window {window_code!r}")
            level, vendor_code = _level(f["level"], rulebook, codes)
            dims = _dimensions(f)
            serial = str(f.get("serial_no") or row_key(f))
            if serial in seen:
                raise ValueError(f"serial number {serial} already on line {seen[serial]}")
            seen[serial] = row.line
        except ValueError as exc:
            report.rejected.append(Rejected(row.line, str(exc)))
            continue
        fields = dict(
            serial_no=serial,
            rated_at=rated_at,
            window_id=windows[window_code],
            terminal_staff_no=str(f["staff_no"]),
            terminal_staff_name=f.get("staff_name"),
            level=level,
            level_rank=rulebook.ratings.levels.index(level),
            is_poor=level in rulebook.ratings.poor,
            vendor_code=vendor_code,
            dimension_scores=dims,
            comment=f.get("comment"),
            matter=f.get("matter"),
        )
        valid.append((row.line, fields))
    return valid


def _add_new(session: Session, path: Path, valid: list[tuple[int, dict[str, Any]]], report: RatingImportReport) -> list[Rating]:
    # Add the ratings not imported before; the same serial with other content is rejected.
    new: list[Rating] = []
    # Ratings imported before, looked up in chunks rather than row by row.
    serials = [fields["serial_no"] for _line, fields in valid]
    existing: dict[str, Rating] = {}
    for i in range(0, len(serials), 500):
        existing.update((r.serial_no, r) for r in session.scalars(select(Rating).where(Rating.serial_no.in_(serials[i : i + 500]))))
    for line, fields in valid:
        old = existing.get(fields["serial_no"])
        if old is not None:
            if all(getattr(old, k) == v for k, v in fields.items()):
                report.unchanged += 1
            else:
                report.rejected.append(Rejected(line, f"serial number {fields['serial_no']} was imported before with other content"))
            continue
        rating = Rating(**fields, source_file=path.name, source_line=line, link_status=RatingLinkStatus.PENDING)
        session.add(rating)
        new.append(rating)
    return new


def _open_follow_up(session: Session, rating: Rating, rulebook: Rulebook) -> int:
    if not rating.is_poor:
        return 0
    days = rulebook.ratings.follow_up_working_days
    opened = rating.rated_at.date()
    case = FollowUp(rating_id=rating.id, opened_on=opened, due_on=add_working_days(opened, days), working_days=days, status=FollowUpStatus.OPEN)
    session.add(case)
    session.flush()
    raise_flag(
        session,
        f"poor_rating:r{rating.id}",
        FlagKind.POOR_RATING,
        raised_at=rating.rated_at,
        summary=f"差评 {rating.level}: {rating.comment or ''}".strip(),
        evidence={"serial_no": rating.serial_no, "level": rating.level, "comment": rating.comment, "matter": rating.matter, "due_on": case.due_on.isoformat()},
        severity="major",
        window_id=rating.window_id,
        rating_id=rating.id,
        follow_up_id=case.id,
    )
    return 1


def link_ratings(
    session: Session,
    rulebook: Rulebook,
    *,
    ratings: list[Rating] | None = None,
    window_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[int, list[str], int]:
    """Link ratings that have no interaction yet to the interaction they rate.

    Either ``ratings`` or a window/time range selects them (after an ingest). A rating links to
    the latest interaction on its window that started before it and ended at most
    ``link_window_minutes`` before it; then the terminal's 工号 is checked against the staff
    member who served.

    Returns:
        (linked, serial numbers still unlinked, flags raised).
    """
    if ratings is None:
        query = select(Rating).where(Rating.interaction_id.is_(None))
        if window_id is not None:
            query = query.where(Rating.window_id == window_id)
        if start is not None:
            query = query.where(Rating.rated_at >= start)
        if end is not None:
            query = query.where(Rating.rated_at <= end)
        ratings = list(session.scalars(query.order_by(Rating.rated_at)))
    link_window = timedelta(minutes=rulebook.ratings.link_window_minutes)
    linked, unlinked, flags = 0, [], 0
    staff_by_no = {s.staff_no: s for s in session.scalars(select(Staff))}
    session.flush()
    cache = _RatingFlags(session, [r.id for r in ratings])
    # No autoflush inside the loop: every query here reads rows written before it, and a flush
    # per rating would dominate the import of a month of ratings.
    candidates = _Candidates(session, ratings, link_window)
    with session.no_autoflush:
        for rating in ratings:
            interaction = candidates.rated_by(rating)
            case = cache.follow_ups.get(rating.id)
            if interaction is not None:
                rating.interaction_id = interaction.id
                rating.link_status = RatingLinkStatus.LINKED
                linked += 1
                cache.drop(f"unlinked_rating:r{rating.id}")
                if case is not None and case.staff_id is None:
                    case.staff_id = interaction.staff_id
                if rating.is_poor:
                    _attach_interaction(cache.get(f"poor_rating:r{rating.id}"), session.get(Interaction, interaction.id))
            else:
                rating.link_status = RatingLinkStatus.UNLINKED
                unlinked.append(rating.serial_no)
                flags += cache.raise_(
                    f"unlinked_rating:r{rating.id}",
                    kind=FlagKind.UNLINKED_RATING,
                    raised_at=rating.rated_at,
                    summary=f"rating {rating.serial_no} ({rating.level}) matches no recorded interaction",
                    evidence={"serial_no": rating.serial_no, "rated_at": rating.rated_at.isoformat()},
                    severity="minor",
                    penalised=False,
                    window_id=rating.window_id,
                    rating_id=rating.id,
                )
            flags += _check_staff(session, cache, rating, interaction, staff_by_no, rulebook.post.max_absence_minutes)
            if case is not None and case.staff_id is None:
                case.staff_id = rating.staff_id
            if rating.staff_id is not None:
                # the rating's flags count on whoever was serving
                for flag in cache.of_rating(rating.id):
                    if flag.staff_id is None:
                        flag.staff_id = rating.staff_id
    session.flush()
    return linked, unlinked, flags


@dataclass(frozen=True)
class _Served:
    id: int
    started_at: datetime
    ended_at: datetime
    staff_id: int | None


class _Candidates:
    """Served interactions of the ratings' windows and time span, for linking without a query per rating."""

    def __init__(self, session: Session, ratings: list[Rating], link_window: timedelta):
        self.link_window = link_window
        self.by_window: dict[int, list[_Served]] = {}
        if not ratings:
            return
        start = min(r.rated_at for r in ratings) - timedelta(days=1)
        end = max(r.rated_at for r in ratings)
        windows = sorted({r.window_id for r in ratings})
        rows = session.execute(
            select(Interaction.id, Interaction.window_id, Interaction.started_at, Interaction.ended_at, Interaction.staff_id)
            .where(
                Interaction.window_id.in_(windows),
                Interaction.served.is_(True),  # staff-only talk is nobody's service to rate
                Interaction.started_at >= start,
                Interaction.started_at <= end,
            )
            .order_by(Interaction.started_at, Interaction.id)
        ).all()
        for iid, window_id, started_at, ended_at, staff_id in rows:
            if started_at is not None and ended_at is not None:
                self.by_window.setdefault(window_id, []).append(_Served(iid, started_at, ended_at, staff_id))
        self.starts = {w: [c.started_at for c in items] for w, items in self.by_window.items()}

    def rated_by(self, rating: Rating) -> _Served | None:
        """The latest interaction that started before the rating and ended at most the link window before it."""
        items = self.by_window.get(rating.window_id)
        if not items:
            return None
        i = bisect.bisect_right(self.starts[rating.window_id], rating.rated_at)
        if i and items[i - 1].ended_at >= rating.rated_at - self.link_window:
            return items[i - 1]
        return None


class _RatingFlags:
    """The flags and follow-ups of a batch of ratings, loaded in a few queries."""

    def __init__(self, session: Session, rating_ids: list[int]):
        self.session = session
        self.by_key: dict[str, Flag] = {}
        self.follow_ups: dict[int, FollowUp] = {}
        for i in range(0, len(rating_ids), 500):
            chunk = rating_ids[i : i + 500]
            self.by_key.update((f.dedupe_key, f) for f in session.scalars(select(Flag).where(Flag.rating_id.in_(chunk))))
            self.follow_ups.update((c.rating_id, c) for c in session.scalars(select(FollowUp).where(FollowUp.rating_id.in_(chunk))))

    def get(self, key: str) -> Flag | None:
        return self.by_key.get(key)

    def of_rating(self, rating_id: int) -> list[Flag]:
        return [f for f in self.by_key.values() if f.rating_id == rating_id]

    def drop(self, key: str) -> None:
        """Remove a flag that no longer applies, unless someone looked at it already."""
        flag = self.by_key.get(key)
        if flag is not None and flag.status is FlagStatus.OPEN and not flag.reviews:
            self.session.delete(flag)
            del self.by_key[key]

    def raise_(self, key: str, **fields: Any) -> int:
        """Create the flag unless it exists (then refresh its links); 1 when created."""
        flag = self.by_key.get(key)
        if flag is not None:
            for name in ("interaction_id", "staff_id", "window_id"):
                if fields.get(name) is not None:
                    setattr(flag, name, fields[name])
            return 0
        flag = Flag(dedupe_key=key, status=FlagStatus.OPEN, **fields)
        self.session.add(flag)
        self.by_key[key] = flag
        return 1


def _attach_interaction(flag: Flag | None, interaction: Interaction) -> None:
    # A reviewer of a 差评 needs what was said: the interaction's audio offsets and transcript.
    if flag is None:
        return
    flag.interaction_id = interaction.id
    flag.staff_id = flag.staff_id or interaction.staff_id
    flag.evidence = {
        **(flag.evidence or {}),
        "recording": interaction.recording.path,
        "start_s": round(interaction.start_s, 3),
        "end_s": round(interaction.end_s, 3),
        "score": interaction.score,
        "text": "\n".join(f"[{u.role.value}] {u.text}" for u in interaction.utterances[:40]),
    }


def _check_staff(
    session: Session,
    cache: _RatingFlags,
    rating: Rating,
    interaction: _Served | None,
    staff_by_no: dict[str, Staff],
    presence_minutes: int,
) -> int:
    serving = interaction.staff_id if interaction is not None and interaction.staff_id else None
    if serving is None:
        at = rating.rated_at
        serving = DutyTable.load(session, rating.window_id, at, at, presence_tolerance_minutes=presence_minutes).staff_at(at)
    terminal = staff_by_no.get(rating.terminal_staff_no or "")
    rating.staff_id = serving or (terminal.id if terminal else None)
    if serving is None:
        return 0
    problems = []
    if terminal is None:
        problems.append(f"terminal 工号 {rating.terminal_staff_no} is not a known staff member")
    elif terminal.id != serving:
        problems.append(f"terminal shows 工号 {terminal.staff_no} ({terminal.name})")
    elif rating.terminal_staff_name and rating.terminal_staff_name != terminal.name:
        problems.append(f"terminal shows name {rating.terminal_staff_name} for 工号 {terminal.staff_no} ({terminal.name})")
    if not problems:
        cache.drop(f"staff_mismatch:r{rating.id}")
        return 0
    actual = session.get(Staff, serving)
    return cache.raise_(
        f"staff_mismatch:r{rating.id}",
        kind=FlagKind.STAFF_MISMATCH,
        raised_at=rating.rated_at,
        summary=f"{problems[0]}, but {actual.staff_no} ({actual.name}) was serving",
        evidence={"serial_no": rating.serial_no, "terminal_staff_no": rating.terminal_staff_no, "terminal_staff_name": rating.terminal_staff_name, "serving_staff_no": actual.staff_no},
        severity="major",
        penalised=True,
        window_id=rating.window_id,
        staff_id=serving,
        rating_id=rating.id,
        interaction_id=interaction.id if interaction is not None else None,
    )


def flag_overdue_follow_ups(session: Session, today) -> int:
    """Flag every follow-up case not closed by its due date; returns how many flags were new."""
    cases = session.scalars(
        select(FollowUp).where(FollowUp.status != FollowUpStatus.CLOSED, FollowUp.due_on < today)
    ).all()
    created = 0
    for case in cases:
        _, new = raise_flag(
            session,
            f"overdue_follow_up:f{case.id}",
            FlagKind.OVERDUE_FOLLOW_UP,
            raised_at=datetime.combine(case.due_on, datetime.min.time()) + timedelta(days=1),
            summary=f"follow-up of rating {case.rating.serial_no} overdue since {case.due_on.isoformat()} ({case.status.value})",
            evidence={"due_on": case.due_on.isoformat(), "status": case.status.value, "working_days": case.working_days},
            severity="major",
            window_id=case.rating.window_id,
            staff_id=case.staff_id,
            rating_id=case.rating_id,
            follow_up_id=case.id,
        )
        created += new
    return created


def advance_follow_up(session: Session, case_id: int, step: FollowUpStatus, note: str, *, at: datetime | None = None) -> FollowUp:
    """Record a follow-up step: callback (回访), rectification (整改) or closure.

    Raises:
        ValueError: no such case, or the case is already closed.
    """
    case = session.get(FollowUp, case_id)
    if case is None:
        raise ValueError(f"no follow-up case {case_id}")
    if case.status is FollowUpStatus.CLOSED:
        raise ValueError(f"follow-up case {case_id} is already closed")
    at = at or datetime.now().replace(microsecond=0)
    if step is FollowUpStatus.CALLED_BACK:
        case.callback_at, case.callback_note = at, note
    elif step is FollowUpStatus.RECTIFIED:
        case.rectification = note
    elif step is FollowUpStatus.CLOSED:
        case.closed_at = at
    case.status = step
    session.flush()
    return case


__all__ = [
    "RATING_FIELDS",
    "RatingImportOptions",
    "RatingImportReport",
    "advance_follow_up",
    "flag_overdue_follow_ups",
    "import_ratings",
    "link_ratings",
]
