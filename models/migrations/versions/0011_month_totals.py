"""month_total, month_total_stamp: stored monthly totals for the management figures across months

Revision ID: 0011_month_totals
Revises: 0010_conduct_links
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_month_totals"
down_revision = "0010_conduct_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "month_total",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("interactions", "greeted", "farewelled", "both", "forbidden", "ratings", "good", "poor")),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_month_total_month", "month_total", ["month", "window_id", "staff_id"], unique=False)
    op.create_table(
        "month_total_stamp",
        sa.Column("month", sa.String(length=7), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("interaction_watermark", "rating_watermark", "forbidden", "forbidden_max_id")),
        sa.Column("good_levels", sa.String(length=500), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("month"),
    )


def downgrade() -> None:
    op.drop_table("month_total_stamp")
    op.drop_index("ix_month_total_month", table_name="month_total")
    op.drop_table("month_total")
