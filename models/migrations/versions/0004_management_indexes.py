"""dashboard: covering indexes for the management figures across months (interaction, rating, flag)

Revision ID: 0004_management_indexes
Revises: 0003_flag_acknowledgement
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004_management_indexes"
down_revision = "0003_flag_acknowledgement"
branch_labels = None
depends_on = None

_INDEXES = [
    ("ix_interaction_month_figures", "interaction", ["started_at", "window_id", "staff_id", "served", "has_greeting", "has_farewell"]),
    ("ix_rating_month_figures", "rating", ["rated_at", "window_id", "staff_id", "level", "is_poor"]),
    ("ix_flag_month_figures", "flag", ["kind", "raised_at", "status", "window_id", "staff_id"]),
]


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
