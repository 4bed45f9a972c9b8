"""voice: staff voiceprints (embeddings only)

Revision ID: 0001_voice
Revises: 0001_core (a branch of its own: branch label 'voice')
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


# Branches off 0001_core like the attendance branch (see models/db.py for why not depends_on).
revision = '0001_voice'
down_revision = '0001_core'
branch_labels = ('voice',)
depends_on = None


def upgrade() -> None:
    op.create_table('voice_voiceprint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('source_name', sa.String(length=500), nullable=False),
    sa.Column('speech_s', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_voice_voiceprint_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_voiceprint'))
    )
    with op.batch_alter_table('voice_voiceprint', schema=None) as batch_op:
        batch_op.create_index('ix_voice_voiceprint_engine_staff', ['engine', 'staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('voice_voiceprint', schema=None) as batch_op:
        batch_op.drop_index('ix_voice_voiceprint_engine_staff')
    op.drop_table('voice_voiceprint')
