"""Monthly totals per (window, staff member) cell: computed from the stored results, written for finished months.

The management figures across months (:mod:`scoring.access.management`) add these cells up by hall,
department, window or staff member. :func:`month_cells` is the one computation: the access layer runs it
live for the current month (and any month not stored or stale), :func:`store_month` runs it for a finished
month and writes the cells with a :class:`MonthStamp`. Checking a stamp reads little: the rows added
since the month was written (ids above its watermarks; ids only grow), the month's few forbidden-phrase
flags (a dismissal changes their count) and the rulebook's good levels. Re-scoring a recording deletes its
interactions, so :func:`forget_month` (called there) drops its month's stamp. A month found stale is
computed live (and logged) until the job writes it again.

Follow-up progress (回访/整改) is not stored: it changes long after the month, and the 差评 cases are few.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.orm import Session

from models.db import Flag, FlagKind, FlagStatus, Interaction, Rating
from models.management_db import MonthTotalRow, MonthTotalStampRow
from models.rulebook import Rulebook

log = logging.getLogger("windowqa.month_totals")

COUNTS = ("interactions", "greeted", "farewelled", "both", "forbidden", "ratings", "good", "poor")


@dataclass
class Cell:
    """One month's counts for one (window, staff member); ``dimensions``: name -> [ratings, sum]."""

    interactions: int = 0
    greeted: int = 0
    farewelled: int = 0
    both: int = 0
    forbidden: int = 0
    ratings: int = 0
    good: int = 0
    poor: int = 0
    dimensions: dict[str, list[float]] = field(default_factory=dict)


CellKey = tuple[str, int | None, int | None]  # (month, window id, staff id)


@dataclass(frozen=True)
class MonthStamp:
    """What a month's totals are computed from."""

    interaction_watermark: int  # the highest interaction id anywhere when written: a later row is newer
    rating_watermark: int
    forbidden: int  # the month's forbidden-phrase flags not dismissed, and their highest id
    forbidden_max_id: int
    good_levels: str


def month_range(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of ``YYYY-MM``."""
    first = datetime.strptime(month, "%Y-%m")
    return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_of(value) -> str:
    return value[:7] if isinstance(value, str) else value.strftime("%Y-%m")


def _between(q, column, start: datetime, end: datetime):
    return q.where(column >= start, column < end)


def month_cells(session: Session, rulebook: Rulebook, start: datetime, end: datetime, *, staff_id: int | None = None,
                ratings_only: bool = False) -> dict[CellKey, Cell]:
    """The counts of [start, end) per (month, window, staff member); ``staff_id``: that staff member's only;
    ``ratings_only``: the ratings' counts alone (the interactions and flags are left at 0)."""
    cells: dict[CellKey, Cell] = defaultdict(Cell)

    def only(q, column):
        return q if staff_id is None else q.where(column == staff_id)

    if not ratings_only:
        _add_interactions(session, cells, start, end, only)
    month = _bucket(session, Rating.rated_at)
    q = (select(month, Rating.window_id, Rating.staff_id, func.count(Rating.id), func.sum(case((Rating.level.in_(rulebook.ratings.good), 1), else_=0)),
                func.sum(case((Rating.is_poor, 1), else_=0))).group_by(month, Rating.window_id, Rating.staff_id))
    for m, w, s, n, g, p in session.execute(only(_between(q, Rating.rated_at, start, end), Rating.staff_id)):
        c = cells[(_month_of(m), w, s)]
        c.ratings, c.good, c.poor = n, g or 0, p or 0
    if ratings_only:
        return dict(cells)
    q = select(Rating.rated_at, Rating.window_id, Rating.staff_id, Rating.dimension_scores).where(Rating.dimension_scores.is_not(None))
    for rated_at, w, s, dims in session.execute(only(_between(q, Rating.rated_at, start, end), Rating.staff_id)):
        if not isinstance(dims, dict):
            continue  # JSON null
        acc = cells[(_month_of(rated_at), w, s)].dimensions
        for dim, value in dims.items():
            if isinstance(value, (int, float)):
                pair = acc.setdefault(str(dim), [0, 0.0])
                pair[0] += 1
                pair[1] += float(value)
    return dict(cells)


def _add_interactions(session: Session, cells: dict[CellKey, Cell], start: datetime, end: datetime, only) -> None:
    """The served interactions' courtesy counts and the forbidden-phrase flags not dismissed."""
    month = _bucket(session, Interaction.started_at)
    q = select(month, Interaction.window_id, Interaction.staff_id, func.count(Interaction.id),
               func.sum(case((Interaction.has_greeting, 1), else_=0)), func.sum(case((Interaction.has_farewell, 1), else_=0)),
               func.sum(case((and_(Interaction.has_greeting, Interaction.has_farewell), 1), else_=0))
               ).where(Interaction.served.is_(True)).group_by(month, Interaction.window_id, Interaction.staff_id)
    for m, w, s, n, g, fw, both in session.execute(only(_between(q, Interaction.started_at, start, end), Interaction.staff_id)):
        c = cells[(_month_of(m), w, s)]
        c.interactions, c.greeted, c.farewelled, c.both = n, g or 0, fw or 0, both or 0
    month = _bucket(session, Flag.raised_at)
    q = (select(month, Flag.window_id, Flag.staff_id, func.count(Flag.id))
         .where(Flag.kind == FlagKind.FORBIDDEN, Flag.status != FlagStatus.DISMISSED).group_by(month, Flag.window_id, Flag.staff_id))
    for m, w, s, n in session.execute(only(_between(q, Flag.raised_at, start, end), Flag.staff_id)):
        cells[(_month_of(m), w, s)].forbidden = n


def _bucket(session: Session, column):
    # SQLite stores datetimes as ISO text: the prefix is the month (as scoring.access.policy.bucket_expr)
    return func.substr(column, 1, 7) if session.get_bind().dialect.name == "sqlite" else func.to_char(column, "YYYY-MM")


def month_stamp(session: Session, rulebook: Rulebook, month: str) -> MonthStamp:
    """The stamp a month written now gets."""
    start, end = month_range(month)
    forbidden, forbidden_top = session.execute(
        select(func.count(Flag.id), func.max(Flag.id)).where(Flag.kind == FlagKind.FORBIDDEN, Flag.raised_at >= start, Flag.raised_at < end,
                                                             Flag.status != FlagStatus.DISMISSED)).one()
    return MonthStamp(int(session.scalar(select(func.max(Interaction.id))) or 0), int(session.scalar(select(func.max(Rating.id))) or 0),
                      int(forbidden or 0), int(forbidden_top or 0), _good_levels(rulebook))


def _forbidden_by_month(session: Session, months: list[str]) -> dict[str, tuple[int, int]]:
    """Month -> (forbidden-phrase flags not dismissed, their highest id), as :func:`month_stamp` counts them: one query for
    the months (a page checks a year of months; a query per month cost a tenth of a second)."""
    start, end = month_range(months[0])[0], month_range(months[-1])[1]
    bucket = _bucket(session, Flag.raised_at)
    q = (select(bucket, func.count(Flag.id), func.max(Flag.id))
         .where(Flag.kind == FlagKind.FORBIDDEN, Flag.raised_at >= start, Flag.raised_at < end, Flag.status != FlagStatus.DISMISSED)
         .group_by(bucket))
    return {_month_of(m): (int(n or 0), int(top or 0)) for m, n, top in session.execute(q)}


def _good_levels(rulebook: Rulebook) -> str:
    return ",".join(sorted(rulebook.ratings.good))


def _newer_months(session: Session, id_column, time_column, after: int) -> dict[str, int]:
    """Month -> the highest id of the rows with an id above ``after`` (a range of the primary key)."""
    bucket = _bucket(session, time_column)
    q = select(bucket, func.max(id_column)).where(id_column > after, time_column.is_not(None)).group_by(bucket)
    return {_month_of(m): top for m, top in session.execute(q)}


def fresh_months(session: Session, rulebook: Rulebook, months: Iterable[str]) -> set[str]:
    """Those of ``months`` stored with a stamp that still matches; a stale one is logged (the job rewrites it)."""
    months = list(months)
    if not months:
        return set()
    stored = {r.month: r for r in session.scalars(select(MonthTotalStampRow).where(MonthTotalStampRow.month.in_(months)))}
    if not stored:
        return set()
    added = [_newer_months(session, Interaction.id, Interaction.started_at, min(r.interaction_watermark for r in stored.values())),
             _newer_months(session, Rating.id, Rating.rated_at, min(r.rating_watermark for r in stored.values()))]
    forbidden = _forbidden_by_month(session, sorted(stored))
    fresh = set()
    for month, row in stored.items():
        reason = ""
        if row.good_levels != _good_levels(rulebook):
            reason = "the rulebook's good levels changed"
        elif added[0].get(month, 0) > row.interaction_watermark or added[1].get(month, 0) > row.rating_watermark:
            reason = "interactions or ratings were added"
        elif forbidden.get(month, (0, 0)) != (row.forbidden, row.forbidden_max_id):
            reason = "forbidden-phrase flags changed"
        if reason:
            log.warning("stored month totals of %s are stale (%s since %s): computed live", month, reason, row.built_at)
        else:
            fresh.add(month)
    return fresh


def forget_month(session: Session, at: datetime | None) -> None:
    """Drop the stamp of ``at``'s month (its interactions are being rebuilt): read live until the job runs."""
    if at is not None:
        session.execute(delete(MonthTotalStampRow).where(MonthTotalStampRow.month == at.strftime("%Y-%m")))


def stored_cells(session: Session, months: Iterable[str], *, staff_id: int | None = None) -> dict[CellKey, Cell]:
    """The stored cells of ``months`` (check them with :func:`fresh_months` first)."""
    # plain columns, not ORM rows: a year of a large hall is thousands of cells per page
    q = select(MonthTotalRow.month, MonthTotalRow.window_id, MonthTotalRow.staff_id, MonthTotalRow.dimensions,
               *(getattr(MonthTotalRow, name) for name in COUNTS)).where(MonthTotalRow.month.in_(list(months)))
    if staff_id is not None:
        q = q.where(MonthTotalRow.staff_id == staff_id)
    return {(m, w, s): Cell(*counts, dimensions={k: list(v) for k, v in (dims or {}).items()})
            for m, w, s, dims, *counts in session.execute(q)}


def store_month(session: Session, rulebook: Rulebook, month: str, *, at: datetime | None = None) -> int:
    """Compute ``month`` and replace its stored cells and stamp; returns the number of cells.

    The stamp is taken before the cells in the same transaction, so a row landing in between makes the
    month stale (recomputed next time) rather than silently missing.
    """
    stamp = month_stamp(session, rulebook, month)
    cells = month_cells(session, rulebook, *month_range(month))
    session.execute(delete(MonthTotalRow).where(MonthTotalRow.month == month))
    session.execute(delete(MonthTotalStampRow).where(MonthTotalStampRow.month == month))
    session.add_all(MonthTotalRow(month=m, window_id=w, staff_id=s, dimensions=c.dimensions, **{k: getattr(c, k) for k in COUNTS})
                    for (m, w, s), c in cells.items())
    session.add(MonthTotalStampRow(month=month, built_at=at or datetime.now().replace(microsecond=0), **asdict(stamp)))
    session.flush()
    return len(cells)


@dataclass(frozen=True)
class MonthTotalsResult:
    """What ``jobs run month-totals`` did: the months (re)written and those already fresh."""

    written: list[str]
    fresh: list[str]
    ok: bool = True

    def lines(self) -> list[str]:
        return [f"月度汇总：重算 {len(self.written)} 个月（{', '.join(self.written) or '-'}），{len(self.fresh)} 个月无变化"]

    def audit_detail(self) -> dict[str, Any]:
        return {"written": self.written, "fresh": len(self.fresh)}


def finished_months(session: Session, today: date) -> list[str]:
    """Every month with interactions or ratings before ``today``'s month, oldest first."""
    starts = [session.scalar(select(func.min(Interaction.started_at))), session.scalar(select(func.min(Rating.rated_at)))]
    starts = [s if isinstance(s, datetime) else datetime.fromisoformat(s) for s in starts if s is not None]
    if not starts:
        return []
    month, current, out = min(starts).strftime("%Y-%m"), today.strftime("%Y-%m"), []
    while month < current:
        out.append(month)
        month = month_range(month)[1].strftime("%Y-%m")
    return out


def refresh_month_totals(session: Session, rulebook: Rulebook, today: date, *, at: datetime | None = None) -> MonthTotalsResult:
    """Write every finished month not stored or stale (the current month is always computed live)."""
    months = finished_months(session, today)
    # ids now, before the check: a fresh month has no row up to them that it lacks, so its watermarks move
    # up and the next check reads only the rows added after this run (not every row since it was written)
    top = (int(session.scalar(select(func.max(Interaction.id))) or 0), int(session.scalar(select(func.max(Rating.id))) or 0))
    fresh = fresh_months(session, rulebook, months)
    if fresh:
        session.execute(update(MonthTotalStampRow).where(MonthTotalStampRow.month.in_(sorted(fresh)))
                        .values(interaction_watermark=top[0], rating_watermark=top[1]))
    written = [m for m in months if m not in fresh]
    for month in written:
        store_month(session, rulebook, month, at=at)
    return MonthTotalsResult(written=written, fresh=sorted(fresh))


__all__ = [
    "COUNTS", "Cell", "CellKey", "MonthStamp", "MonthTotalsResult", "finished_months", "forget_month", "fresh_months", "month_cells", "month_range",
    "month_stamp", "refresh_month_totals", "store_month", "stored_cells",
]
