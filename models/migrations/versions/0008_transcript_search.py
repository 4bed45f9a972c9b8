"""utterance.search_text and its search index (SQLite FTS5 table + triggers, PostgreSQL GIN), backfilled; rule_hit (rule_id, interaction_id)

Revision ID: 0008_transcript_search
Revises: 0007_sampling
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.transcript_search import PG_INDEX, SQLITE_FTS_TABLE, SQLITE_TRIGGERS, create_index, fill_search_text

revision = "0008_transcript_search"
down_revision = "0007_sampling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("utterance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    op.create_index("ix_rule_hit_rule_interaction", "rule_hit", ["rule_id", "interaction_id"])
    connection = op.get_bind()
    fill_search_text(connection)  # before the triggers: one bulk build below instead of a row at a time
    create_index(connection)
    if connection.dialect.name == "sqlite":
        op.execute(f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute(f"DROP TABLE IF EXISTS {SQLITE_FTS_TABLE}")
    else:
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    with op.batch_alter_table("utterance", schema=None) as batch_op:
        batch_op.drop_column("search_text")
    op.drop_index("ix_rule_hit_rule_interaction", table_name="rule_hit")
