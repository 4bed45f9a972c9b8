"""Indexes and stored monthly totals for the management figures across months (scoring.access.management).

A year of a large hall is ~1.5 M interactions: the monthly figures group them by month and window or
staff member. Covering indexes (every column the query reads, in the index) let the database read
the month range from the index alone instead of the wide rows (an interaction carries its score
explanation). Declared here, beside the tables of :mod:`models.db`, so that the migration and the
models agree (tests/test_models_db_schema.py); revision ``0004_management_indexes``.

Even from the index, twelve months are ~1.5 M entries read per page. :class:`MonthTotalRow` keeps each
finished month's counts per (window, staff member) cell, written by ``jobs run month-totals``
(:mod:`scoring.store.month_totals`); :class:`MonthTotalStampRow` records what the month's source rows
were when it was written (the highest interaction and rating ids, its forbidden-phrase flags, the
rulebook's good levels), so a month that no longer matches is computed live rather than read
(revision ``0009_month_totals``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, Flag, Interaction, Rating

INTERACTION_MONTHS = Index("ix_interaction_month_figures", Interaction.started_at, Interaction.window_id, Interaction.staff_id,
                           Interaction.served, Interaction.has_greeting, Interaction.has_farewell)
RATING_MONTHS = Index("ix_rating_month_figures", Rating.rated_at, Rating.window_id, Rating.staff_id, Rating.level, Rating.is_poor)
FLAG_MONTHS = Index("ix_flag_month_figures", Flag.kind, Flag.raised_at, Flag.status, Flag.window_id, Flag.staff_id)



class MonthTotalRow(Base):
    """One finished month's counts for one (window, staff member) cell; None: no window / nobody on duty.

    ``dimensions`` maps a terminal dimension (态度、效率…) to [ratings carrying it, sum of its scores].
    """

    __tablename__ = "month_total"
    __table_args__ = (Index("ix_month_total_month", "month", "window_id", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    window_id: Mapped[Optional[int]] = mapped_column(Integer)  # no foreign key: a month outlives a deleted window
    staff_id: Mapped[Optional[int]] = mapped_column(Integer)
    interactions: Mapped[int] = mapped_column(Integer, default=0)  # served ones
    greeted: Mapped[int] = mapped_column(Integer, default=0)
    farewelled: Mapped[int] = mapped_column(Integer, default=0)
    both: Mapped[int] = mapped_column(Integer, default=0)
    forbidden: Mapped[int] = mapped_column(Integer, default=0)  # forbidden-phrase flags not dismissed
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    poor: Mapped[int] = mapped_column(Integer, default=0)
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MonthTotalStampRow(Base):
    """What a stored month was computed from; a month whose source rows differ now is stale."""

    __tablename__ = "month_total_stamp"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    interaction_watermark: Mapped[int] = mapped_column(Integer)  # the highest interaction id when written
    rating_watermark: Mapped[int] = mapped_column(Integer)
    forbidden: Mapped[int] = mapped_column(Integer)
    forbidden_max_id: Mapped[int] = mapped_column(Integer)
    good_levels: Mapped[str] = mapped_column(String(500))
    built_at: Mapped[datetime] = mapped_column(DateTime)


__all__ = ["FLAG_MONTHS", "INTERACTION_MONTHS", "RATING_MONTHS", "MonthTotalRow", "MonthTotalStampRow"]
