"""Load the hall's organisation from a site file: departments, windows, staff, roster, substitutes.

A TOML site file holds everything (see ``tests/data/site/hall.toml``); CSV files hold one kind
each, recognised by their header: staff (工号, 姓名, 部门, 窗口), roster (窗口, 工号, 开始, 结束)
or substitutes (窗口, 替岗人工号, 被替人工号, 开始, 结束, 备案时间). Loading is an upsert: loading the
same file twice changes nothing. A substitute's ``filed_at`` (备案时间, ISO time) is when it was
reported to 督查考核科 (四.(三).2): only one filed before it began counts as filed. A recurring roster (``days = "2026-03-01..2026-03-31"``) puts
the staff at the window on every working day for the rulebook's shift times of the season.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Department, RosterEntry, Staff, Substitution, Window
from models.rulebook import Rulebook
from scoring.store.tabular import ImportFileError, Rejected, parse_time, read_rows
from models.workdays import is_working_day

log = logging.getLogger("scoring")


class SiteFileError(ValueError):
    """A site file entry that cannot be loaded; the message names the file, the entry and the reason."""


@dataclass
class SiteLoadReport:
    source: str
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)

    def count(self, what: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[what] = target.get(what, 0) + 1


STAFF_FIELDS = {
    "staff_no": ("工号",), "name": ("姓名",), "department": ("部门", "部门编码"), "department_name": ("部门名称",),
    "windows": ("窗口", "window"),
}
ROSTER_FIELDS = {"window": ("窗口",), "staff": ("staff_no", "工号"), "starts_at": ("start", "开始", "开始时间"), "ends_at": ("end", "结束", "结束时间"), "days": ("日期",)}
SUBSTITUTE_FIELDS = {
    "window": ("窗口",), "substitute": ("替岗人工号", "替岗人"), "replaces": ("被替人工号", "被替人"),
    "starts_at": ("start", "开始", "开始时间"), "ends_at": ("end", "结束", "结束时间"), "reason": ("事由", "原因"), "approved": ("批准", "已批准"),
    "filed_at": ("filed", "备案时间", "报备时间"),
}


def load_site(session: Session, path: str | Path, rulebook: Rulebook) -> SiteLoadReport:
    """Load a TOML or CSV site file into the store (upsert) in the caller's transaction.

    Raises:
        ImportFileError: the file cannot be read.
        SiteFileError: a TOML site file with an invalid entry (TOML files load all or nothing).
    """
    path = Path(path)
    report = SiteLoadReport(source=str(path))
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ImportFileError(f"{path}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ImportFileError(f"{path}: not valid TOML: {exc}") from None
        _load_dict(session, path, data, rulebook, report)
        return report
    header = _csv_header(path)
    if {"staff_no", "name"} <= header or {"工号", "姓名"} <= header:
        kind, fields = "staff", STAFF_FIELDS
    elif header & {"substitute", "替岗人工号", "替岗人"}:
        kind, fields = "substitutes", SUBSTITUTE_FIELDS
    elif header & {"window", "窗口"}:
        kind, fields = "roster", ROSTER_FIELDS
    else:
        raise ImportFileError(f"{path}: header {sorted(header)} is neither staff, roster nor substitutes")
    for row in read_rows(path, fields):
        if "_error" in row.fields:  # a field too long or with a NUL: the reader's reason
            report.rejected.append(Rejected(row.line, row.fields["_error"]))
            continue
        entry = {k: v for k, v in row.fields.items() if not k.startswith("_")}
        if kind == "staff" and isinstance(entry.get("windows"), str):
            entry["windows"] = [w for w in entry["windows"].replace("，", ";").replace(",", ";").split(";") if w.strip()]
        try:
            with session.begin_nested():
                _load_dict(session, path, {kind: [entry]}, rulebook, report)
        except (SiteFileError, ValueError) as exc:
            report.rejected.append(Rejected(row.line, re.sub(r"^.*?\[\d+\]: ", "", str(exc))))
    return report


def _csv_header(path: Path) -> set[str]:
    if not path.is_file():
        raise ImportFileError(f"{path}: file not found")
    first = path.read_bytes().split(b"\n", 1)[0]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return {h.strip().lower() for h in first.decode(encoding).split(",")}
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"{path}: neither UTF-8 nor GB18030 text")


def _need(entry: dict[str, Any], key: str, where: str) -> Any:
    if entry.get(key) in (None, ""):
        raise SiteFileError(f"{where}: missing {key!r}")
    return entry[key]


def _load_dict(session: Session, path: Path, data: dict[str, Any], rulebook: Rulebook, report: SiteLoadReport) -> None:
    windows, staff = _load_places(session, path, data, report)
    _load_duty(session, path, data, rulebook, report, windows, staff)


def _load_places(session: Session, path: Path, data: dict[str, Any], report: SiteLoadReport) -> tuple[dict[str, Window], dict[str, Staff]]:
    # Departments, windows and staff (by code / 工号), created or updated; returns them by code.
    departments = {d.code: d for d in session.scalars(select(Department))}
    windows = {w.code: w for w in session.scalars(select(Window))}
    staff = {s.staff_no: s for s in session.scalars(select(Staff))}

    for n, entry in enumerate(data.get("departments", []), start=1):
        where = f"{path}: departments[{n}]"
        code = str(_need(entry, "code", where))
        dept = departments.get(code)
        created = dept is None
        if created:
            dept = departments[code] = Department(code=code, name=str(entry.get("name") or code))
            session.add(dept)
        elif entry.get("name") and dept.name != entry["name"]:
            dept.name = entry["name"]
        report.count("departments", created)

    def department(code: Any, where: str, name: Any = None) -> Department | None:
        if code in (None, ""):
            return None
        code = str(code)
        if code not in departments:
            departments[code] = Department(code=code, name=str(name or code))
            session.add(departments[code])
            report.count("departments", True)
        return departments[code]

    for n, entry in enumerate(data.get("windows", []), start=1):
        where = f"{path}: windows[{n}]"
        code = str(_need(entry, "code", where))
        window = windows.get(code)
        created = window is None
        if created:
            window = windows[code] = Window(code=code, name="")
            session.add(window)
        window.name = str(entry.get("name") or window.name or code)
        window.department = department(entry.get("department"), where) or window.department
        if "channel_map" in entry:
            window.channel_map = {str(k): str(v) for k, v in entry["channel_map"].items()}
        report.count("windows", created)

    for n, entry in enumerate(data.get("staff", []), start=1):
        where = f"{path}: staff[{n}]"
        no = str(_need(entry, "staff_no", where))
        person = staff.get(no)
        created = person is None
        if created:
            person = staff[no] = Staff(staff_no=no, name=str(_need(entry, "name", where)))
            session.add(person)
        elif entry.get("name"):
            person.name = str(entry["name"])
        person.department = department(entry.get("department"), where, entry.get("department_name")) or person.department
        for code in entry.get("windows", []):
            code = str(code).strip()
            if code not in windows:
                windows[code] = Window(code=code, name=code, department=person.department)
                session.add(windows[code])
                report.count("windows", True)
            if windows[code] not in person.windows:
                person.windows.append(windows[code])
        report.count("staff", created)
    session.flush()
    return windows, staff


def _load_duty(
    session: Session, path: Path, data: dict[str, Any], rulebook: Rulebook, report: SiteLoadReport,
    windows: dict[str, Window], staff: dict[str, Staff],
) -> None:
    # Roster entries and filed substitutes (existing ones are kept or updated, never duplicated).
    def window_of(entry: dict[str, Any], where: str) -> Window:
        code = str(_need(entry, "window", where))
        if code not in windows:
            raise SiteFileError(f"{where}: unknown window {code!r}")
        return windows[code]

    def staff_of(no: Any, where: str) -> Staff:
        if str(no) not in staff:
            raise SiteFileError(f"{where}: unknown staff 工号 {no!r}")
        return staff[str(no)]

    for n, entry in enumerate(data.get("roster", []), start=1):
        where = f"{path}: roster[{n}]"
        window = window_of(entry, where)
        person = staff_of(_need(entry, "staff", where), where)
        for starts_at, ends_at in _spans(entry, rulebook, where):
            exists = session.scalar(
                select(RosterEntry.id).where(RosterEntry.window_id == window.id, RosterEntry.staff_id == person.id, RosterEntry.starts_at == starts_at)
            )
            if exists is None:
                session.add(RosterEntry(window_id=window.id, staff_id=person.id, starts_at=starts_at, ends_at=ends_at, source=path.name))
            report.count("roster", exists is None)

    for n, entry in enumerate(data.get("substitutes", []), start=1):
        where = f"{path}: substitutes[{n}]"
        window = window_of(entry, where)
        sub = staff_of(_need(entry, "substitute", where), where)
        replaced = staff_of(entry["replaces"], where) if entry.get("replaces") not in (None, "") else None
        starts_at, ends_at = _time(entry, "starts_at", where), _time(entry, "ends_at", where)
        if ends_at <= starts_at:
            raise SiteFileError(f"{where}: ends_at is not after starts_at")
        # no filing time in the file: not filed, unless an earlier load or command filed it
        filed_at = _time(entry, "filed_at", where) if entry.get("filed_at") not in (None, "") else None
        approved = entry.get("approved", True)
        if isinstance(approved, str):
            approved = approved.strip().lower() not in ("false", "no", "0", "否", "未批准")
        _, created = _upsert_substitution(
            session, window, sub, replaced, starts_at, ends_at, approved=bool(approved), reason=str(entry.get("reason") or ""),
            filed_at=filed_at,
        )
        report.count("substitutes", created)
    session.flush()


def _upsert_substitution(
    session: Session, window: Window, sub: Staff, replaced: Staff | None, starts_at: datetime, ends_at: datetime, *,
    approved: bool, reason: str, filed_at: datetime | None, keep_filed: bool = False,
) -> tuple[Substitution, bool]:
    # One substitution per (window, substitute, start); ``keep_filed`` keeps an earlier filing time.
    existing = session.scalar(
        select(Substitution).where(Substitution.window_id == window.id, Substitution.substitute_id == sub.id, Substitution.starts_at == starts_at)
    )
    if existing is None:
        row = Substitution(
            window_id=window.id, substitute_id=sub.id, replaced_id=replaced.id if replaced else None,
            starts_at=starts_at, ends_at=ends_at, approved=approved, reason=reason, filed_at=filed_at,
        )
        session.add(row)
        return row, True
    existing.ends_at, existing.approved = ends_at, approved
    if replaced is not None:
        existing.replaced_id = replaced.id
    if reason:
        existing.reason = reason
    if filed_at is not None and not (keep_filed and existing.filed_at is not None):
        existing.filed_at = filed_at
    return existing, False


def file_substitute(
    session: Session, window_code: str, staff_no: str, starts_at: datetime, ends_at: datetime, *,
    filed_at: datetime, replaces_no: str | None = None, reason: str = "",
) -> tuple[Substitution, bool]:
    """File (备案, 四.(三).2) an approved substitute at a window, as ``windowqa attendance substitute-add`` does.

    Filing the same substitution again (same window, substitute and start) updates its end, whom
    it replaces and its reason, and keeps the first filing time.

    Returns:
        The substitution and whether it was created.

    Raises:
        SiteFileError: an unknown window or 工号, or an end not after the start.
    """
    window = session.scalar(select(Window).where(Window.code == window_code))
    if window is None:
        raise SiteFileError(f"unknown window {window_code!r}")
    people = {s.staff_no: s for s in session.scalars(select(Staff).where(Staff.staff_no.in_([staff_no, replaces_no or staff_no])))}
    for no in (staff_no, replaces_no):
        if no is not None and no not in people:
            raise SiteFileError(f"unknown staff 工号 {no!r}")
    if ends_at <= starts_at:
        raise SiteFileError("the end is not after the start")
    row, created = _upsert_substitution(
        session, window, people[staff_no], people[replaces_no] if replaces_no else None, starts_at, ends_at,
        approved=True, reason=reason, filed_at=filed_at, keep_filed=True,
    )
    session.flush()
    return row, created


def _time(entry: dict[str, Any], key: str, where: str) -> datetime:
    try:
        return parse_time(_need(entry, key, where))
    except ValueError as exc:
        raise SiteFileError(f"{where}: {key}: {exc}") from None


def _spans(entry: dict[str, Any], rulebook: Rulebook, where: str) -> list[tuple[datetime, datetime]]:
    if entry.get("days") in (None, ""):
        starts_at, ends_at = _time(entry, "starts_at", where), _time(entry, "ends_at", where)
        if ends_at <= starts_at:
            raise SiteFileError(f"{where}: ends_at is not after starts_at")
        return [(starts_at, ends_at)]
    try:
        first_s, _, last_s = str(entry["days"]).partition("..")
        first, last = date.fromisoformat(first_s.strip()), date.fromisoformat((last_s or first_s).strip())
    except ValueError:
        raise SiteFileError(f"{where}: days must be like 2026-03-01..2026-03-31, got {entry['days']!r}") from None
    spans = []
    day = first
    while day <= last:
        if is_working_day(day):
            shift = rulebook.attendance.shift_for(day)
            spans.append((datetime.combine(day, shift.morning_arrive_by), datetime.combine(day, shift.morning_leave_from)))
            spans.append((datetime.combine(day, shift.afternoon_arrive_by), datetime.combine(day, shift.afternoon_leave_from)))
        day += timedelta(days=1)
    return spans
