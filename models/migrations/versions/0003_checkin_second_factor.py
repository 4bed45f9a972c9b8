"""attendance_checkin.second_factor: what confirmed a face that was not clearly inside the threshold

Revision ID: 0003_checkin_second_factor
Revises: 0002_attendance_days
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_checkin_second_factor"
down_revision = "0002_attendance_days"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("second_factor", sa.Enum("card", "pin", "frame", name="second_factor",
                                                               native_enum=False, length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attendance_checkin", schema=None) as batch_op:
        batch_op.drop_column("second_factor")
