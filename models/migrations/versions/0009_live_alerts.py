"""live_alert: forbidden phrases and citizen abuse heard on the live path, with webhook delivery state

Revision ID: 0009_live_alerts
Revises: 0008_transcript_search
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_live_alerts"
down_revision = "0008_transcript_search"
branch_labels = None
depends_on = None

_KINDS = ("forbidden", "poor_rating", "missing_courtesy", "citizen_abuse", "overdue_follow_up", "staff_mismatch", "unlinked_rating")


def upgrade() -> None:
    op.create_table(
        "live_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.Enum(*_KINDS, name="live_alert_kind", native_enum=False, length=32), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=True),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("spoken_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("webhook_state", sa.Enum("none", "pending", "sent", "failed", name="live_alert_webhook_state", native_enum=False,
                                           length=32), nullable=False),
        sa.Column("webhook_attempts", sa.Integer(), nullable=False),
        sa.Column("webhook_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["flag_id"], ["flag.id"], name=op.f("fk_live_alert_flag_id_flag"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["recording_id"], ["recording.id"], name=op.f("fk_live_alert_recording_id_recording"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["window_id"], ["window.id"], name=op.f("fk_live_alert_window_id_window")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_live_alert_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_alert")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_live_alert_dedupe_key")),
    )
    op.create_index("ix_live_alert_raised", "live_alert", ["raised_at"])
    op.create_index("ix_live_alert_staff_raised", "live_alert", ["staff_id", "raised_at"])
    op.create_index(op.f("ix_live_alert_recording_id"), "live_alert", ["recording_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_live_alert_recording_id"), table_name="live_alert")
    op.drop_index("ix_live_alert_staff_raised", table_name="live_alert")
    op.drop_index("ix_live_alert_raised", table_name="live_alert")
    op.drop_table("live_alert")
