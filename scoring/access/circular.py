"""The monthly circular (按月通报) for management: built from the analytics, written as xlsx or HTML, audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy.orm import Session

from models.db import FlagKind, FlagStatus
from models.export_cells import append_row
from models.rulebook import Rulebook
from scoring.access.analytics import compliance, rules_most_broken, satisfaction
from scoring.access.attendance import attendance_month
from scoring.access.field import circular_rows as field_circular_rows, field_estimates
from scoring.access.flags import FlagFilter, flag_queue
from scoring.access.management import attendance_by_department, dimension_scores, follow_up_rates, management_trend, watch_list
from scoring.access.policy import ANALYTICS, DEFAULT_POLICY, AccessPolicy, require
from scoring.accounts import Actor, audit


@dataclass
class Circular:
    """The monthly circular (按月通报): named sheets of rows, ready for xlsx or HTML."""

    month: str
    title: str
    sheets: dict[str, list[dict[str, Any]]]  # a sheet's rows are plain dicts: each sheet has its own columns


def monthly_circular(session: Session, actor: Actor, month: str, rulebook: Rulebook, *,
                     policy: AccessPolicy = DEFAULT_POLICY) -> Circular:
    """The month's circular for management: satisfaction, compliance, confirmed violations, attendance, and the
    management figures (by department with the month-on-month change, 差评 回访率/整改率 against the target,
    the terminal's dimension scores, the watch list).

    Attendance comes from the stored classification (``windowqa attendance classify``); a month
    not classified yet has no attendance sheets.
    """
    require(actor, ANALYTICS, "export the monthly circular")
    first = datetime.strptime(month, "%Y-%m").date()
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    sheets: dict[str, list[dict[str, Any]]] = {
        "服务评价(按窗口)": _rows(satisfaction(session, actor, rulebook, by="window", start=first, end=last)),
        "服务评价(按人员)": _rows(satisfaction(session, actor, rulebook, by="staff", start=first, end=last)),
        "规范用语(按人员)": _rows(compliance(session, actor, by="staff", start=first, end=last)),
        "常见问题": _rows(rules_most_broken(session, actor, rulebook, start=first, end=last)),
    }
    _, confirmed = flag_queue(session, actor, FlagFilter(kinds=(FlagKind.FORBIDDEN, FlagKind.POOR_RATING), statuses=(FlagStatus.CONFIRMED,),
                                                         start=first, end=last), limit=1000, policy=policy)
    sheets["督查问题"] = [{k: getattr(r, k) for k in ("raised_at", "kind_label", "rule_id", "window", "staff_no", "staff_name", "summary")} for r in confirmed]
    field = field_estimates(session, actor, month)
    if field.reviewed:  # appendix: the system's own precision and recall, from sampled reviews
        sheets["附录 质检准确度(抽检)"] = field_circular_rows(field)
    att = attendance_month(session, actor, month)
    if att is not None:
        sheets["考勤(按人员)"] = _rows(att.staff)
        sheets["考勤(按窗口)"] = _rows(att.windows)
        sheets["考勤(按部门)"] = _rows(attendance_by_department(session, actor, month))
    sheets.update(_management_sheets(session, actor, month, rulebook, first, last))
    return Circular(month, f"窗口服务月度通报 {month}", sheets)


def _management_sheets(session: Session, actor: Actor, month: str, rulebook: Rulebook, first, last) -> dict[str, list[dict[str, Any]]]:
    """The management figures of the month: by department, 差评 follow-ups against the target, dimensions, the watch list."""
    trend = management_trend(session, actor, rulebook, by="department", through=month, months=2)
    return {
        "本月指标及环比(按部门)": _rows([r for r in trend if r.month == month]),
        "服务评价(按部门)": _rows(satisfaction(session, actor, rulebook, by="department", start=first, end=last)),
        "规范用语(按部门)": _rows(compliance(session, actor, by="department", start=first, end=last)),
        "差评回访整改(按部门)": _rows(follow_up_rates(session, actor, rulebook, by="department", start=first, end=last)),
        "差评回访整改(按窗口)": _rows(follow_up_rates(session, actor, rulebook, by="window", start=first, end=last)),
        "差评回访整改(按人员)": _rows(follow_up_rates(session, actor, rulebook, by="staff", start=first, end=last)),
        "评价维度(按窗口)": _rows(dimension_scores(session, actor, by="window", start=first, end=last)),
        "约谈名单(人员)": _rows(watch_list(session, actor, rulebook, unit="staff", through=month)),
        "约谈名单(窗口)": _rows(watch_list(session, actor, rulebook, unit="window", through=month)),
    }


def _rows(rows: list) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def write_circular_xlsx(circular: Circular, target, *, headers: Mapping[str, str] | None = None) -> Any:
    """Write the circular as an Excel workbook (one sheet per part) to a path or a binary file object.

    Every text cell is stored as text, never as a formula (names come from the site file).
    ``headers`` gives a field's column header (the dashboard's Chinese labels); the field name otherwise.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, rows in circular.sheets.items():
        sheet = book.create_sheet(name[:31])
        columns = list(rows[0]) if rows else ["(无数据)"]
        for cell in append_row(sheet, [(headers or {}).get(c, c) for c in columns]):
            cell.font = Font(bold=True)
        for row in rows:
            append_row(sheet, [_cell(row.get(c)) for c in columns])
        sheet.freeze_panes = "A2"
    book.properties.title = circular.title
    book.save(target)
    return target


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    return value


def render_circular_html(circular: Circular, *, headers: Mapping[str, str] | None = None) -> str:
    """The circular as a self-contained printable HTML page (print to PDF from the browser); ``headers`` as for xlsx."""
    from html import escape

    parts = [
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>",
        f"<title>{escape(circular.title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em;font-size:12px}"
        "th,td{border:1px solid #888;padding:3px 6px}th{background:#eee}@media print{h2{page-break-before:auto}}</style>",
        f"</head><body><h1>{escape(circular.title)}</h1>",
    ]
    for name, rows in circular.sheets.items():
        parts.append(f"<h2>{escape(name)}</h2>")
        if not rows:
            parts.append("<p>(无数据)</p>")
            continue
        columns = list(rows[0])
        parts.append("<table><tr>" + "".join(f"<th>{escape(str((headers or {}).get(c, c)))}</th>" for c in columns) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape('' if row.get(c) is None else str(row.get(c)))}</td>" for c in columns) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def record_export(session: Session, actor: Actor, what: str, month: str, fmt: str) -> None:
    """Audit an export (who exported which month in which format)."""
    require(actor, ANALYTICS, "export")
    audit(session, actor.username, "export", what, None, month=month, format=fmt)

