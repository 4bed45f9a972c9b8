"""rule_hit.classifier_version: the phrase classifier version that made each hit

Revision ID: 0012_hit_classifier_version
Revises: 0011_month_totals
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_hit_classifier_version"
# The core line's head when this was written; the lead re-chains after any later core revision.
down_revision = "0011_month_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: hits stored before this revision do not know their classifier
    with op.batch_alter_table("rule_hit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("classifier_version", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_hit", schema=None) as batch_op:
        batch_op.drop_column("classifier_version")
