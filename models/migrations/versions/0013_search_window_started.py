"""interaction (window_id, started_at): transcript search walks a window's interactions newest first

Revision ID: 0013_search_window_started
Revises: 0012_hit_classifier_version
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0013_search_window_started"
# The core line's head when this was written; the lead re-chains after any later core revision.
down_revision = "0012_hit_classifier_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # without it a window's year of common words walked every window's interactions by start (0.9 s on 1.5 M)
    op.create_index("ix_interaction_window_start", "interaction", ["window_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_interaction_window_start", table_name="interaction")
