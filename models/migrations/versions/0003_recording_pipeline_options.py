"""recording.pipeline_options: the speech pipeline and near-miss verification options that made its utterances and hits

Revision ID: 0003_pipeline_options
Revises: 0002_served
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_pipeline_options"
down_revision = "0002_served"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pipeline_options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_column("pipeline_options")
