"""recording.audio_deleted_at: when the retention job deleted the recording's audio file

Revision ID: 0005_audio_retention
Revises: 0004_recording_failure_kind
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audio_retention"
# The core branch's head when this was written; chain after any later core revision on merge.
down_revision = "0004_recording_failure_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audio_deleted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_column("audio_deleted_at")
