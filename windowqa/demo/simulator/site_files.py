"""The files a site hands windowqa, written from the simulated hall's truth.

``site.toml`` (departments, windows, staff, the duty roster, the filed substitute), the queue
system's ``queue.csv``, the evaluation terminal's ``ratings.csv``, the leave system's
``leave.csv`` and the attendance terminal's ``checkins.csv``; names as in ``truth.files``.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from models.rulebook import Rulebook
from windowqa.demo.simulator.hall import DEPARTMENT_NAMES
from windowqa.demo.simulator.truth import HallTruth, iso_time


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_site_files(folder: Path, truth: HallTruth, rulebook: Rulebook) -> None:
    """Write ``site.toml`` and the CSV exports into ``folder``."""
    files = truth.files
    (folder / files.site).write_text(site_toml(truth, rulebook), encoding="utf-8")

    def write_csv(name: str, header: list[str], rows: list[list[Any]]) -> None:
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)

    write_csv(files.queue, ["called_at", "window", "ticket_no", "issued_at", "matter", "citizen_id"],
              [[iso_time(q.called_at), q.window, q.ticket_no, iso_time(q.issued_at), q.matter or "", q.citizen_id or ""]
               for q in truth.queue_calls])
    write_csv(files.ratings, ["serial_no", "rated_at", "window", "staff_no", "staff_name", "level", "comment", "matter"],
              [[r.serial_no, iso_time(r.rated_at), r.window, r.terminal_staff_no, r.terminal_staff_name, r.level,
                r.comment, r.matter] for r in truth.ratings])
    write_csv(files.leave, ["staff", "leave_type", "start", "end", "status", "start_half", "end_half", "record_id"],
              [[lv.staff, lv.leave_type, lv.start.isoformat(), lv.end.isoformat(), lv.status, lv.start_half, lv.end_half,
                lv.record_id] for lv in truth.leave])
    write_csv(files.checkins, ["at", "method", "image", "card_no"],
              [[iso_time(c.at), c.method, c.image if c.image is not None else "", c.card_no if c.card_no is not None else ""]
               for c in truth.attendance.checkins])


def site_toml(truth: HallTruth, rulebook: Rulebook) -> str:
    """The site file: departments, windows, staff, the roster of every simulated day, substitutes."""
    lines = ["# The simulated hall (windowqa demo): departments, windows, staff, roster, substitutes.", ""]
    departments = [(w.department, w.department_name) for w in truth.windows]
    departments += [(p.department, DEPARTMENT_NAMES[p.department]) for p in truth.staff if p.window is None]
    seen_depts = set()
    for dept, dept_name in departments:
        if dept not in seen_depts:
            seen_depts.add(dept)
            lines += ["[[departments]]", f"code = {_toml_str(dept)}", f"name = {_toml_str(dept_name)}", ""]
    # one microphone per window: the roles come from the voices (and the words), not the channels
    channel_map = '{ "0" = "unknown" }' if truth.options.mono else '{ "0" = "staff", "1" = "citizen" }'
    for w in truth.windows:
        lines += ["[[windows]]", f"code = {_toml_str(w.code)}", f"name = {_toml_str(w.name)}",
                  f"department = {_toml_str(w.department)}", f"channel_map = {channel_map}", ""]
    for p in truth.staff:
        lines += ["[[staff]]", f"staff_no = {_toml_str(p.staff_no)}", f"name = {_toml_str(p.name)}",
                  f"department = {_toml_str(p.department)}", f"windows = [{_toml_str(p.window)}]" if p.window else "windows = []", ""]
    lines += _roster(truth, rulebook)
    for s in truth.substitutes if truth.options.substitution_filed else ():
        lines += ["[[substitutes]]", f"window = {_toml_str(s.window)}", f"substitute = {_toml_str(s.substitute)}",
                  f"replaces = {_toml_str(s.replaces)}", f"starts_at = {_toml_str(iso_time(s.starts_at))}",
                  f"ends_at = {_toml_str(iso_time(s.ends_at))}", f"reason = {_toml_str(s.reason)}", "approved = true",
                  f"filed_at = {_toml_str(iso_time(s.filed_at))}", ""]
    return "\n".join(lines)


def _roster(truth: HallTruth, rulebook: Rulebook) -> list[str]:
    """Every rostered staff member at their window for both shifts of every day."""
    lines: list[str] = []
    for day in truth.days:
        shift = rulebook.attendance.shift_for(day)
        for p in truth.staff:
            if p.window is None:
                continue
            for a, b in ((shift.morning_arrive_by, shift.morning_leave_from), (shift.afternoon_arrive_by, shift.afternoon_leave_from)):
                lines += ["[[roster]]", f"window = {_toml_str(p.window)}", f"staff = {_toml_str(p.staff_no)}",
                          f"starts_at = {_toml_str(datetime.combine(day, a).isoformat())}",
                          f"ends_at = {_toml_str(datetime.combine(day, b).isoformat())}", ""]
    return lines
