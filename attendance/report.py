"""The monthly attendance circular (按月通报, 四.(一).3): per staff and per window.

Counts come from classified :class:`~models.attendance.DayRecord`s; coverage and presence flags
are added per window. Output as a text table, CSV or an Excel workbook (openpyxl).
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

from models.attendance import (
    AbsenteeismCause,
    CoverageFlag,
    DayRecord,
    HalfDay,
    HalfDayCounts,
    HalfDayStatus,
    PresenceFlag,
    StaffMonth,
    WindowDuty,
    WindowMonth,
)
from models.export_cells import append_row, write_csv


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of ``YYYY-MM``.

    Raises:
        ValueError: not a YYYY-MM month.
    """
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"expected a month as YYYY-MM, got {month!r}") from None
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def staff_month(staff_id: str, window_id: str | None, month: str, records: Iterable[DayRecord],
                presence: Sequence[PresenceFlag] = ()) -> StaffMonth:
    """Sum one person's day records of a month into their circular line."""
    working = 0
    total = Counter()
    by_type: Counter[str] = Counter()
    for rec in records:
        if rec.staff_id != staff_id or rec.day.strftime("%Y-%m") != month or not rec.day_type.is_working:
            continue
        working += 1
        for h in rec.halves:
            if h.status is HalfDayStatus.LEAVE:
                by_type[h.leave_type or "?"] += 0.5
            # one definition of a half-day's counts, shared with a granted appeal's correction
            counts = HalfDayCounts.of(h.status, h.late_minutes, h.early_minutes, len(h.missing_checks))
            total.update({k: getattr(counts, k) for k in counts.__slots__})
    n_presence = sum(1 for f in presence if staff_id in f.staff_ids and f.start.strftime("%Y-%m") == month)
    return StaffMonth(
        staff_id, window_id, month, working, total["late"], total["late_minutes"], total["early"], total["early_minutes"],
        total["missing_checks"], total["absenteeism_days"], total["leave_days"], dict(by_type), total["checks_due"],
        total["checks_on_time"], n_presence,
    )


def window_month(duty: WindowDuty, month: str, staff_lines: Sequence[StaffMonth],
                 coverage: Sequence[CoverageFlag] = (), presence: Sequence[PresenceFlag] = ()) -> WindowMonth:
    """Sum the lines of a window's staff, plus the window's coverage and presence flags."""
    mine = [s for s in staff_lines if s.staff_id in duty.staff_ids]
    return WindowMonth(
        duty.window_id, month, duty.staff_ids,
        late_count=sum(s.late_count for s in mine),
        early_count=sum(s.early_count for s in mine),
        missing_checks=sum(s.missing_checks for s in mine),
        absenteeism_days=sum(s.absenteeism_days for s in mine),
        leave_days=sum(s.leave_days for s in mine),
        checks_due=sum(s.checks_due for s in mine),
        checks_on_time=sum(s.checks_on_time for s in mine),
        coverage_flags=sum(1 for f in coverage if f.window_id == duty.window_id and f.day.strftime("%Y-%m") == month),
        presence_flags=sum(1 for f in presence if f.window_id == duty.window_id and f.start.strftime("%Y-%m") == month),
    )


def monthly_circular(
    month: str, windows: Sequence[WindowDuty], records: Sequence[DayRecord], staff_ids: Iterable[str] | None = None,
    coverage: Sequence[CoverageFlag] = (), presence: Sequence[PresenceFlag] = (),
) -> tuple[list[StaffMonth], list[WindowMonth]]:
    """The month's circular: one line per staff member and one per window."""
    window_of: dict[str, str] = {}
    for w in windows:
        for sid in w.staff_ids:
            window_of.setdefault(sid, w.window_id)
    ids = sorted(set(staff_ids) if staff_ids is not None else {r.staff_id for r in records})
    by_staff: dict[str, list[DayRecord]] = defaultdict(list)
    for r in records:
        by_staff[r.staff_id].append(r)
    staff_lines = [staff_month(sid, window_of.get(sid), month, by_staff[sid], presence) for sid in ids]
    window_lines = [window_month(w, month, staff_lines, coverage, presence) for w in windows]
    return staff_lines, window_lines


# ---------------------------------------------------------------------------- output

STAFF_COLUMNS = [
    ("工号", "staff_id"), ("窗口", "window_id"), ("工作日", "working_days"), ("迟到次数", "late_count"),
    ("迟到分钟", "late_minutes"), ("早退次数", "early_count"), ("早退分钟", "early_minutes"),
    ("缺卡次数", "missing_checks"), ("旷工天数", "absenteeism_days"), ("请假天数", "leave_days"),
    ("离岗超时", "presence_flags"), ("准时率", "punctuality_rate"),
]
WINDOW_COLUMNS = [
    ("窗口", "window_id"), ("人员", "staff_ids"), ("迟到次数", "late_count"), ("早退次数", "early_count"),
    ("缺卡次数", "missing_checks"), ("旷工天数", "absenteeism_days"), ("请假天数", "leave_days"),
    ("空岗/替岗问题", "coverage_flags"), ("离岗问题", "presence_flags"), ("准时率", "punctuality_rate"),
]


def _value(obj, attr: str):
    v = getattr(obj, attr)
    if attr == "punctuality_rate":
        return "" if v is None else round(v * 100, 1)
    if isinstance(v, tuple):
        return ",".join(v)
    if v is None:
        return ""
    return v


def _rows(objs, columns) -> list[list]:
    return [[_value(o, attr) for _, attr in columns] for o in objs]


def render_table(staff_lines: Sequence[StaffMonth], window_lines: Sequence[WindowMonth], month: str) -> str:
    """A plain-text table (CJK-width aware) of both parts of the circular."""
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

    def table(title: str, columns, rows) -> list[str]:
        head = [c for c, _ in columns]
        cells = [head] + [[str(v) for v in r] for r in rows]
        widths = [max(width(r[i]) for r in cells) for i in range(len(head))]
        lines = [title]
        for j, r in enumerate(cells):
            lines.append("  ".join(v + " " * (widths[i] - width(v)) for i, v in enumerate(r)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        return lines

    out = [f"考勤月度通报 {month}  (准时率 = 准时打卡次数 / 应打卡次数 %)", ""]
    out += table("按人员", STAFF_COLUMNS, _rows(staff_lines, STAFF_COLUMNS)) + [""]
    out += table("按窗口", WINDOW_COLUMNS, _rows(window_lines, WINDOW_COLUMNS))
    return "\n".join(out) + "\n"


def render_csv(staff_lines: Sequence[StaffMonth], window_lines: Sequence[WindowMonth]) -> str:
    """CSV: the staff part, a blank line, then the window part (each with its header)."""
    buf = io.StringIO()
    write_csv(buf, [c for c, _ in STAFF_COLUMNS], _rows(staff_lines, STAFF_COLUMNS))
    buf.write("\n")
    write_csv(buf, [c for c, _ in WINDOW_COLUMNS], _rows(window_lines, WINDOW_COLUMNS))
    return buf.getvalue()


def write_xlsx(path: str | Path, staff_lines: Sequence[StaffMonth], window_lines: Sequence[WindowMonth], month: str) -> Path:
    """An Excel workbook with the sheets 按人员 and 按窗口."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "按人员"
    for sheet, columns, rows in ((ws, STAFF_COLUMNS, _rows(staff_lines, STAFF_COLUMNS)),
                                 (wb.create_sheet("按窗口"), WINDOW_COLUMNS, _rows(window_lines, WINDOW_COLUMNS))):
        for cell in append_row(sheet, [c for c, _ in columns]):
            cell.font = Font(bold=True)
        for r in rows:
            append_row(sheet, r)
        sheet.freeze_panes = "A2"
    wb.properties.title = f"考勤月度通报 {month}"
    path = Path(path)
    wb.save(path)
    return path


STATUS_LABELS = {
    HalfDayStatus.LATE: "迟到", HalfDayStatus.EARLY_LEAVE: "早退", HalfDayStatus.LATE_AND_EARLY: "迟到+早退",
    HalfDayStatus.MISSING_CHECK: "缺卡", HalfDayStatus.ABSENTEEISM: "旷工", HalfDayStatus.LEAVE: "请假",
}
CAUSE_LABELS = {
    AbsenteeismCause.NO_LEAVE_FILED: "未履行请假手续", AbsenteeismCause.LEAVE_NOT_APPROVED: "请假未获批准",
    AbsenteeismCause.LEAVE_OVERRUN: "超假不归", AbsenteeismCause.LEAVE_BY_DECEPTION: "以欺骗手段请假",
}
HALF_LABELS = {HalfDay.MORNING: "上午", HalfDay.AFTERNOON: "下午"}


def render_details(records: Iterable[DayRecord], *, include_leave: bool = True) -> str:
    """Every half-day that is not on time, one line each, for the circular's annex (明细)."""
    lines = []
    for rec in sorted(records, key=lambda r: (r.staff_id, r.day)):
        for h in rec.halves:
            if h.status in (HalfDayStatus.ON_TIME, HalfDayStatus.OFF) or (h.status is HalfDayStatus.LEAVE and not include_leave):
                continue
            parts = []
            if h.status is HalfDayStatus.MISSING_CHECK:
                parts += ["缺到岗卡" if s.value.endswith("arrive") else "缺离岗卡" for s in h.missing_checks]
            elif h.status in (HalfDayStatus.ABSENTEEISM, HalfDayStatus.LEAVE):
                parts.append(STATUS_LABELS[h.status] + (f"（{CAUSE_LABELS[h.absenteeism]}）" if h.absenteeism else ""))
            if h.late_minutes:
                parts.append(f"迟到{h.late_minutes}分钟")
            if h.early_minutes:
                parts.append(f"早退{h.early_minutes}分钟")
            if h.leave_type:
                parts.append(h.leave_type)
            what = " ".join(parts)
            lines.append(f"{rec.staff_id}  {rec.day}  {HALF_LABELS[h.half]}  {what}")
    return "\n".join(lines) + ("\n" if lines else "")
