"""Attendance as the actor may see it (the month is classified by a provider the composition root passes)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Staff, UserRole
from scoring.access.policy import ANALYTICS as _ANALYTICS, require, staff_scope
from scoring.accounts import Actor


class AttendanceMonth(Protocol):
    """What an attendance provider returns (``attendance.store.MonthResult`` fits)."""

    staff_lines: list
    window_lines: list
    coverage: list
    presence: list


class AttendanceProvider(Protocol):
    def __call__(self, session: Session, month: str) -> AttendanceMonth: ...


def attendance_month(session: Session, actor: Actor, month: str, provider: AttendanceProvider, *, staff_id: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """The month's attendance as the actor may see it: staff get their own line and their own absences only.

    ``provider`` classifies the month (the composition root passes ``attendance.store.compute_month``
    bound to the rulebook and calendar: scoring does not import attendance).

    Returns:
        ``{"staff": [...], "windows": [...], "coverage": [...], "presence": [...]}`` rows.
    """
    sid = staff_scope(actor, staff_id)
    if sid is None:
        require(actor, _ANALYTICS | {UserRole.INSPECTOR}, "see the hall's attendance")
    result = provider(session, month)
    names = {no: name for no, name in session.execute(select(Staff.staff_no, Staff.name))}
    own = session.scalar(select(Staff.staff_no).where(Staff.id == sid)) if sid is not None else None

    def line(obj) -> dict[str, Any]:
        row = {k: getattr(obj, k) for k in obj.__dataclass_fields__ if k != "leave_by_type"}
        row["punctuality_rate"] = round(obj.punctuality_rate, 4) if obj.punctuality_rate is not None else None
        if hasattr(obj, "leave_by_type"):
            row["leave_by_type"] = ", ".join(f"{k} {v:g}" for k, v in sorted(obj.leave_by_type.items()))
        if "staff_ids" in row:
            row["staff_ids"] = ",".join(row["staff_ids"])
        return row

    staff_rows = [dict(line(s), name=names.get(s.staff_id, "")) for s in result.staff_lines if own is None or s.staff_id == own]
    presence = [
        {"window": p.window_id, "issue": p.issue.value, "start": p.start, "end": p.end, "minutes": round(p.duration_min, 1), "staff": ",".join(p.staff_ids)}
        for p in result.presence
        if own is None or own in p.staff_ids
    ]
    if own is not None:
        return {"staff": staff_rows, "windows": [], "coverage": [], "presence": presence}
    coverage = [{"window": c.window_id, "day": c.day, "half": c.half.value, "issue": c.issue.value, "staff": ",".join(c.staff_ids), "detail": c.detail}
                for c in result.coverage]
    return {"staff": staff_rows, "windows": [line(w) for w in result.window_lines], "coverage": coverage, "presence": presence}

