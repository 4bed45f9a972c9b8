"""dashboard: review.rule_id (a changed rule), review.ruling (an appeal's ruling) and indexes for the dashboard's queries

Revision ID: 0001_dashboard
Revises: 0001_core (a branch of its own: branch label 'dashboard')
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# A branch of its own (like attendance) so that it never conflicts with the core history.
revision = "0001_dashboard"
down_revision = "0001_core"
branch_labels = ("dashboard",)
depends_on = None

_INDEXES = [
    ("ix_interaction_started", "interaction", ["started_at"]),
    ("ix_rating_rated", "rating", ["rated_at"]),
    ("ix_rating_staff_time", "rating", ["staff_id", "rated_at"]),
    ("ix_follow_up_status_due", "follow_up", ["status", "due_on"]),
    ("ix_flag_status_raised", "flag", ["status", "raised_at"]),
    ("ix_flag_staff_raised", "flag", ["staff_id", "raised_at"]),
]


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ruling", sa.Text(), nullable=True))
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("ruling")
        batch_op.drop_column("rule_id")
