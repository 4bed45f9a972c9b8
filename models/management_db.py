"""Indexes for the management figures across months (scoring.access.management) on the shared tables.

A year of a large hall is ~1.5 M interactions: the monthly figures group them by month and window or
staff member. Covering indexes (every column the query reads, in the index) let the database read
the month range from the index alone instead of the wide rows (an interaction carries its score
explanation). Declared here, beside the tables of :mod:`models.db`, so that the migration and the
models agree (tests/test_models_db_schema.py); revision ``0004_management_indexes``.
"""

from __future__ import annotations

from sqlalchemy import Index

from models.db import Flag, Interaction, Rating

INTERACTION_MONTHS = Index("ix_interaction_month_figures", Interaction.started_at, Interaction.window_id, Interaction.staff_id,
                           Interaction.served, Interaction.has_greeting, Interaction.has_farewell)
RATING_MONTHS = Index("ix_rating_month_figures", Rating.rated_at, Rating.window_id, Rating.staff_id, Rating.level, Rating.is_poor)
FLAG_MONTHS = Index("ix_flag_month_figures", Flag.kind, Flag.raised_at, Flag.status, Flag.window_id, Flag.staff_id)

__all__ = ["FLAG_MONTHS", "INTERACTION_MONTHS", "RATING_MONTHS"]
