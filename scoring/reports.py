"""Roll-ups per staff, window and department, per day, week and month; rendered as a table, CSV or XLSX.

Read-only queries. Only interactions where a citizen was served count towards scores and
courtesy rates; scores are effective scores (:mod:`scoring.effective`: an inspector's
adjustments added, never below 0). Ratings count on the staff member who was actually serving;
a department's figures are its windows' (:mod:`scoring.departments`, as the dashboard and the circular group them);
好评率 counts the rulebook's good levels (``[ratings] good``), as the dashboard and the circular do.
Rates are rounded to :data:`RATE_DIGITS` places, like the dashboard's.
"""

from __future__ import annotations

import io
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

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
    Staff,
    Window,
)
from models.export_cells import append_row, write_csv
from models.rulebook import Rulebook
from scoring.departments import window_departments
from scoring.effective import effective_score, score_adjustments

GroupBy = Literal["staff", "window", "department"]
Period = Literal["day", "week", "month"]


class ReportError(ValueError):
    """A report that cannot be made (bad month, unknown grouping)."""


RATE_DIGITS = 4  # the same rounding as scoring.access.analytics, so the CLI and the dashboard agree to the digit


@dataclass(frozen=True)
class ReportOptions:
    """What a report covers: grouping, period buckets, the date range [start, end) and the levels counted as 好评.

    ``good_levels`` is the rulebook's ``ratings.good`` (:meth:`for_rulebook`); a report carries it
    so that its 好评率 says what it counted.
    """

    group_by: GroupBy
    period: Period
    start: date
    end: date
    good_levels: tuple[str, ...]

    @classmethod
    def for_rulebook(cls, group_by: GroupBy, period: Period, start: date, end: date, rulebook: Rulebook) -> "ReportOptions":
        """Options whose 好评 are the rulebook's good levels (the one definition the dashboard and the circular use)."""
        return cls(group_by, period, start, end, tuple(rulebook.ratings.good))


@dataclass
class Report:
    """A rectangular report; ``rows`` are lists in ``columns`` order."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    options: ReportOptions | None = None

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def month_range(month: str) -> tuple[date, date]:
    """``YYYY-MM`` to [first day, first day of next month).

    Raises:
        ReportError: not a month like 2026-03.
    """
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ReportError(f"expected a month as YYYY-MM, got {month!r}") from None
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, nxt


def _bucket(day: date, period: Period) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.strftime("%Y-%m")


COLUMNS = [
    "period", "key", "name", "interactions", "avg_score", "min_score", "greeting_rate", "farewell_rate",
    "forbidden_hits", "citizen_abuse", "ratings", "good_ratings", "poor_ratings", "good_rate", "follow_ups_open", "flags_open",
    "poor_called_back", "poor_rectified", "callback_rate", "rectify_rate",
]
# a 差评's case counts as called back (回访) from 已回访 on, as rectified (整改) from 已整改 on (as scoring.access.management)
_CALLED_BACK = (FollowUpStatus.CALLED_BACK, FollowUpStatus.RECTIFIED, FollowUpStatus.CLOSED)
_RECTIFIED = (FollowUpStatus.RECTIFIED, FollowUpStatus.CLOSED)


def rollup(session: Session, options: ReportOptions) -> Report:
    """Aggregate scores, courtesy, hits, ratings and flags by group and period (read-only).

    Raises:
        ReportError: unknown grouping or period.
    """
    if options.group_by not in ("staff", "window", "department"):
        raise ReportError(f"group by staff, window or department, not {options.group_by!r}")
    if options.period not in ("day", "week", "month"):
        raise ReportError(f"period is day, week or month, not {options.period!r}")
    start = datetime.combine(options.start, datetime.min.time())
    end = datetime.combine(options.end, datetime.min.time())
    names = _names(session, options.group_by)
    window_dept = window_departments(session) if options.group_by == "department" else {}

    def key_of(staff_id: int | None, window_id: int | None):
        if options.group_by == "staff":
            return staff_id
        if options.group_by == "window":
            return window_id
        return window_dept.get(window_id)  # the window's department, whoever served (scoring.departments)

    acc: dict[tuple[str, Any], dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "sum": 0.0, "min": None, "greet": 0, "farewell": 0, "forbidden": 0, "abuse": 0, "ratings": 0, "poor": 0, "good": 0, "follow_ups": 0, "flags": 0,
                 "called_back": 0, "rectified": 0}
    )
    adj = score_adjustments()
    rows = session.execute(
        select(Interaction.staff_id, Interaction.window_id, Interaction.started_at, effective_score(adj), Interaction.has_greeting, Interaction.has_farewell)
        .outerjoin(adj, adj.c.interaction_id == Interaction.id)
        .where(Interaction.served.is_(True), Interaction.started_at >= start, Interaction.started_at < end)
    ).all()
    for staff_id, window_id, started_at, score, greet, farewell in rows:
        a = acc[(_bucket(started_at.date(), options.period), key_of(staff_id, window_id))]
        a["n"] += 1
        a["sum"] += score
        a["min"] = score if a["min"] is None else min(a["min"], score)
        a["greet"] += bool(greet)
        a["farewell"] += bool(farewell)
    for kind, staff_id, window_id, raised_at, status in session.execute(
        select(Flag.kind, Flag.staff_id, Flag.window_id, Flag.raised_at, Flag.status).where(Flag.raised_at >= start, Flag.raised_at < end)
    ).all():
        a = acc[(_bucket(raised_at.date(), options.period), key_of(staff_id, window_id))]
        if kind is FlagKind.FORBIDDEN and status is not FlagStatus.DISMISSED:
            a["forbidden"] += 1
        elif kind is FlagKind.CITIZEN_ABUSE:
            a["abuse"] += 1
        if status is FlagStatus.OPEN:
            a["flags"] += 1
    good_levels = set(options.good_levels)
    for staff_id, window_id, rated_at, is_poor, level, case_status in session.execute(
        select(Rating.staff_id, Rating.window_id, Rating.rated_at, Rating.is_poor, Rating.level, FollowUp.status)
        .outerjoin(FollowUp, FollowUp.rating_id == Rating.id)
        .where(Rating.rated_at >= start, Rating.rated_at < end)
    ).all():
        a = acc[(_bucket(rated_at.date(), options.period), key_of(staff_id, window_id))]
        a["ratings"] += 1
        a["poor"] += bool(is_poor)
        a["good"] += level in good_levels  # 基本满意 is neither good nor poor
        a["called_back"] += bool(is_poor) and case_status in _CALLED_BACK
        a["rectified"] += bool(is_poor) and case_status in _RECTIFIED
    for staff_id, window_id, opened_on in session.execute(
        select(FollowUp.staff_id, Rating.window_id, FollowUp.opened_on)
        .join(Rating, FollowUp.rating_id == Rating.id)
        .where(FollowUp.status != FollowUpStatus.CLOSED, FollowUp.opened_on >= options.start, FollowUp.opened_on < options.end)
    ).all():
        acc[(_bucket(opened_on, options.period), key_of(staff_id, window_id))]["follow_ups"] += 1

    return _report(options, acc, names)


def _report(options: ReportOptions, acc: dict[tuple[str, Any], dict[str, Any]], names: dict[int, tuple[str, str]]) -> Report:
    report = Report(
        title=f"windowqa {options.group_by} report {options.start.isoformat()}..{(options.end - timedelta(days=1)).isoformat()} by {options.period}",
        columns=list(COLUMNS),
        options=options,
    )
    for (bucket, key), a in sorted(acc.items(), key=lambda kv: (kv[0][0], names.get(kv[0][1], ("~", ""))[0])):
        code, name = names.get(key, ("(none)", "nobody on duty" if options.group_by == "staff" else "unknown"))
        n = a["n"]
        report.rows.append(
            [
                bucket, code, name, n,
                round(a["sum"] / n, 1) if n else None,
                a["min"],
                round(a["greet"] / n, RATE_DIGITS) if n else None,
                round(a["farewell"] / n, RATE_DIGITS) if n else None,
                a["forbidden"], a["abuse"], a["ratings"], a["good"], a["poor"],
                round(a["good"] / a["ratings"], RATE_DIGITS) if a["ratings"] else None,
                a["follow_ups"], a["flags"], a["called_back"], a["rectified"],
                round(a["called_back"] / a["poor"], RATE_DIGITS) if a["poor"] else None,
                round(a["rectified"] / a["poor"], RATE_DIGITS) if a["poor"] else None,
            ]
        )
    return report


def _names(session: Session, group_by: GroupBy) -> dict:
    """A group's key -> (code, name): staff and window ids; a department's key is its (code, name) itself."""
    if group_by == "staff":
        return {i: (no, name) for i, no, name in session.execute(select(Staff.id, Staff.staff_no, Staff.name))}
    if group_by == "window":
        return {i: (code, name) for i, code, name in session.execute(select(Window.id, Window.code, Window.name))}
    return {key: key for key in window_departments(session).values()}


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{RATE_DIGITS}f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return str(value)


def render_table(report: Report) -> str:
    """The report as an aligned plain-text table (CJK-aware widths)."""
    cells = [report.columns] + [[_cell(v) for v in row] for row in report.rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(report.columns))]
    lines = [report.title]
    for n, row in enumerate(cells):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not report.rows:
        lines.append("(no data)")
    return "\n".join(lines)


def render_csv(report: Report) -> str:
    """The report as CSV text (header line first; text fields quoted and never a formula, :mod:`models.export_cells`)."""
    out = io.StringIO()
    write_csv(out, report.columns, report.rows)
    return out.getvalue()


def write_xlsx(report: Report, path: str | Path) -> Path:
    """Write the report as an Excel workbook (one sheet, header row frozen; names are text cells, never formulas)."""
    from openpyxl import Workbook

    path = Path(path)
    book = Workbook()
    sheet = book.active
    sheet.title = "report"
    append_row(sheet, report.columns)
    for row in report.rows:
        append_row(sheet, row)
    sheet.freeze_panes = "A2"
    book.properties.title = report.title
    book.save(path)
    return path
