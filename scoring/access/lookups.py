"""Lookups every page needs: the staff and windows an actor may pick, and the data's date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.db import Interaction, Rating, Staff, UserRole, Window
from scoring.access.policy import staff_scope
from scoring.accounts import Actor


@dataclass(frozen=True)
class StaffChoice:
    """A staff member as a picker shows them."""

    id: int
    staff_no: str
    name: str


@dataclass(frozen=True)
class WindowChoice:
    """A window as a picker shows it."""

    id: int
    code: str
    name: str


def staff_choices(session: Session, actor: Actor) -> list[StaffChoice]:
    """Staff the actor may pick: everyone for inspectors and management, oneself for staff."""
    query = select(Staff.id, Staff.staff_no, Staff.name).order_by(Staff.staff_no)
    if actor.role is UserRole.STAFF:
        query = query.where(Staff.id == staff_scope(actor, None))
    return [StaffChoice(i, no, name) for i, no, name in session.execute(query)]


def window_choices(session: Session, actor: Actor) -> list[WindowChoice]:
    """Windows (codes and names); every role may list them."""
    return [WindowChoice(i, c, n) for i, c, n in session.execute(select(Window.id, Window.code, Window.name).order_by(Window.code))]


def data_range(session: Session, actor: Actor) -> tuple[date, date] | None:
    """First and last day with interactions or ratings (the actor's own for staff)."""
    sid = staff_scope(actor, None)
    values = []
    # one aggregate per query: SQLite answers a lone min() or max() from the index
    for column, owner in ((Interaction.started_at, Interaction.staff_id), (Rating.rated_at, Rating.staff_id)):
        for agg in (func.min, func.max):
            query = select(agg(column))
            if sid is not None:
                query = query.where(owner == sid)
            value = session.scalar(query)
            if value is not None:
                values.append(value)
    if not values:
        return None
    return min(values).date(), max(values).date()

