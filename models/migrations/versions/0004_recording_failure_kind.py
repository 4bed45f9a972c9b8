"""recording.failure_kind: whether a failed recording failed on its content or on an outside cause (retry policy)

Revision ID: 0004_recording_failure_kind
Revises: 0003_pipeline_options
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_recording_failure_kind"
down_revision = "0003_pipeline_options"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain text as every enum column here (models.db._enum): no native type to migrate.
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_kind", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_column("failure_kind")
