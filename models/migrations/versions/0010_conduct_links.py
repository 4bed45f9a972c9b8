"""queue_call.citizen_ref (salted hash of the citizen's ID, never the ID) and flag.linked_interaction_id (repeat visits, 八.3/八.4)

Revision ID: 0010_conduct_links
Revises: 0009_live_alerts
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_conduct_links"
down_revision = "0009_live_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("citizen_ref", sa.String(64), nullable=True))
        batch_op.create_index(batch_op.f("ix_queue_call_citizen_ref"), ["citizen_ref"], unique=False)
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.add_column(sa.Column("linked_interaction_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_flag_linked_interaction_id_interaction"), "interaction",
                                    ["linked_interaction_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("flag", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_flag_linked_interaction_id_interaction"), type_="foreignkey")
        batch_op.drop_column("linked_interaction_id")
    with op.batch_alter_table("queue_call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_call_citizen_ref"))
        batch_op.drop_column("citizen_ref")
