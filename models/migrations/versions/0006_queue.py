"""ingest_job (queued ingest: states, tries, dead letters) and window_day_lock (one rebuild of a window-day at a time)

Revision ID: 0006_queue
Revises: 0005_audio_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_queue"
# The core branch's head when this was written; chain after any later core revision on merge.
down_revision = "0005_audio_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("path", sa.String(1000), nullable=False),
        # Plain text as every enum column here (models.db._enum): no native type to migrate.
        sa.Column("state", sa.Enum("queued", "running", "done", "failed", "dead", name="ingest_job_state",
                                   native_enum=False, length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("queued_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["recording_id"], ["recording.id"], name=op.f("fk_ingest_job_recording_id_recording"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["window_id"], ["window.id"], name=op.f("fk_ingest_job_window_id_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_job")),
        sa.UniqueConstraint("recording_id", name=op.f("uq_ingest_job_recording_id")),
    )
    op.create_index(op.f("ix_ingest_job_day"), "ingest_job", ["day"], unique=False)
    op.create_index(op.f("ix_ingest_job_state"), "ingest_job", ["state"], unique=False)
    op.create_table(
        "window_day_lock",
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rebuilds", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["window_id"], ["window.id"], name=op.f("fk_window_day_lock_window_id_window")),
        sa.PrimaryKeyConstraint("window_id", "day", name=op.f("pk_window_day_lock")),
    )


def downgrade() -> None:
    op.drop_table("window_day_lock")
    op.drop_index(op.f("ix_ingest_job_state"), table_name="ingest_job")
    op.drop_index(op.f("ix_ingest_job_day"), table_name="ingest_job")
    op.drop_table("ingest_job")
