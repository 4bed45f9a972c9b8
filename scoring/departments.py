"""Which department a figure counts for: the department of the window where the citizen was served.

The one definition for the CLI report (:mod:`scoring.reports`), the dashboard and the monthly circular
(:mod:`scoring.access`): a department's interactions, forbidden phrases, ratings and 差评 are those of its
windows, whoever served there (a colleague lent from another department counts for the window's
department, as the citizen sees the hall). A window without a department counts under 未分部门.
Attendance has no window: it counts for the staff member's own department.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import Department, Window

NO_DEPARTMENT = ("", "未分部门")


def window_departments(session: Session) -> dict[int, tuple[str, str]]:
    """Every window's id -> its department's (code, name); :data:`NO_DEPARTMENT` for a window without one."""
    q = select(Window.id, Department.code, Department.name).outerjoin(Department, Department.id == Window.department_id)
    return {i: ((code, name) if code is not None else NO_DEPARTMENT) for i, code, name in session.execute(q)}


def join_window_department(query, window_column):
    """``query`` joined to the window in ``window_column`` and that window's department (outer: 未分部门 kept).

    Group by :data:`Department.code` and :data:`Department.name`; a ``None`` code is :data:`NO_DEPARTMENT`.
    """
    return query.join(Window, Window.id == window_column).outerjoin(Department, Department.id == Window.department_id)


def department_key(code: str | None, name: str | None) -> tuple[str, str]:
    """A grouped row's (code, name), :data:`NO_DEPARTMENT` for the windows without a department."""
    return (code, name or "") if code is not None else NO_DEPARTMENT


__all__ = ["NO_DEPARTMENT", "department_key", "join_window_department", "window_departments"]
