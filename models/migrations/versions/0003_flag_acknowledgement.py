"""dashboard: flag_acknowledgement (a staff member's 已阅 of a flag)

Revision ID: 0003_flag_acknowledgement
Revises: 0002_login_throttle
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_flag_acknowledgement"
down_revision = "0002_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flag_acknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["flag.id"], name=op.f("fk_flag_acknowledgement_flag_id_flag"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["user_account.id"], name=op.f("fk_flag_acknowledgement_account_id_user_account"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_acknowledgement")),
        sa.UniqueConstraint("flag_id", "account_id", name="uq_flag_acknowledgement_flag_account"),
    )


def downgrade() -> None:
    op.drop_table("flag_acknowledgement")
