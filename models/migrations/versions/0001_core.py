"""core schema: organisation, recordings, scores, ratings, inspection

Revision ID: 0001_core
Revises: 
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001_core'
down_revision = None
branch_labels = ('core',)
depends_on = None


def upgrade() -> None:

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('code', name=op.f('uq_department_code'))
    )
    op.create_table('import_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('rows_unchanged', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('rejects', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_run'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_no', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_staff_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('staff_no', name=op.f('uq_staff_staff_no'))
    )
    op.create_table('window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('channel_map', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_window_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_window')),
    sa.UniqueConstraint('code', name=op.f('uq_window_code'))
    )
    op.create_table('queue_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('ticket_no', sa.String(length=64), nullable=False),
    sa.Column('called_at', sa.DateTime(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=True),
    sa.Column('matter', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_queue_call_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_call')),
    sa.UniqueConstraint('window_id', 'ticket_no', 'called_at', name=op.f('uq_queue_call_window_id_ticket_no_called_at'))
    )
    with op.batch_alter_table('queue_call', schema=None) as batch_op:
        batch_op.create_index('ix_queue_call_window_time', ['window_id', 'called_at'], unique=False)

    op.create_table('recording',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('channels', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'done', 'failed', name='recording_status', native_enum=False, length=32), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('rulebook_version', sa.String(length=64), nullable=True),
    sa.Column('asr_options', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_recording_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_recording_content_hash'))
    )
    op.create_table('roster_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_roster_entry_staff_id_staff')),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_roster_entry_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_entry')),
    sa.UniqueConstraint('window_id', 'staff_id', 'starts_at', name=op.f('uq_roster_entry_window_id_staff_id_starts_at'))
    )
    with op.batch_alter_table('roster_entry', schema=None) as batch_op:
        batch_op.create_index('ix_roster_entry_window_time', ['window_id', 'starts_at', 'ends_at'], unique=False)

    op.create_table('staff_window',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_window_staff_id_staff'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_staff_window_window_id_window'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'window_id', name=op.f('pk_staff_window'))
    )
    op.create_table('substitution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('substitute_id', sa.Integer(), nullable=False),
    sa.Column('replaced_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('filed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['replaced_id'], ['staff.id'], name=op.f('fk_substitution_replaced_id_staff')),
    sa.ForeignKeyConstraint(['substitute_id'], ['staff.id'], name=op.f('fk_substitution_substitute_id_staff')),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_substitution_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substitution')),
    sa.UniqueConstraint('window_id', 'substitute_id', 'starts_at', name=op.f('uq_substitution_window_id_substitute_id_starts_at'))
    )
    with op.batch_alter_table('substitution', schema=None) as batch_op:
        batch_op.create_index('ix_substitution_window_time', ['window_id', 'starts_at', 'ends_at'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'manager', 'inspector', 'staff', name='user_role', native_enum=False, length=32), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_user_account_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username'))
    )
    op.create_table('interaction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ticket_no', sa.String(length=64), nullable=True),
    sa.Column('queue_call_id', sa.Integer(), nullable=True),
    sa.Column('has_greeting', sa.Boolean(), nullable=False),
    sa.Column('has_farewell', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('rulebook_version', sa.String(length=64), nullable=False),
    sa.Column('split_reason', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['queue_call_id'], ['queue_call.id'], name=op.f('fk_interaction_queue_call_id_queue_call')),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_interaction_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_interaction_staff_id_staff')),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_interaction_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interaction')),
    sa.UniqueConstraint('recording_id', 'seq', name=op.f('uq_interaction_recording_id_seq'))
    )
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_staff_start', ['staff_id', 'started_at'], unique=False)
        batch_op.create_index('ix_interaction_window_end', ['window_id', 'ended_at'], unique=False)

    op.create_table('rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial_no', sa.String(length=128), nullable=False),
    sa.Column('rated_at', sa.DateTime(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('terminal_staff_no', sa.String(length=64), nullable=True),
    sa.Column('terminal_staff_name', sa.String(length=100), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('level_rank', sa.Integer(), nullable=False),
    sa.Column('is_poor', sa.Boolean(), nullable=False),
    sa.Column('vendor_code', sa.String(length=64), nullable=True),
    sa.Column('dimension_scores', sa.JSON(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('matter', sa.String(length=500), nullable=True),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('link_status', sa.Enum('linked', 'unlinked', 'pending', name='rating_link_status', native_enum=False, length=32), nullable=False),
    sa.Column('source_file', sa.String(length=1000), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['interaction_id'], ['interaction.id'], name=op.f('fk_rating_interaction_id_interaction'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_rating_staff_id_staff')),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_rating_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating')),
    sa.UniqueConstraint('serial_no', name=op.f('uq_rating_serial_no'))
    )
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index('ix_rating_window_time', ['window_id', 'rated_at'], unique=False)

    op.create_table('utterance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('start_s', sa.Float(), nullable=False),
    sa.Column('end_s', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('role', sa.Enum('staff', 'citizen', 'unknown', name='speaker_role', native_enum=False, length=32), nullable=False),
    sa.Column('role_confidence', sa.Float(), nullable=False),
    sa.Column('channel', sa.Integer(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['interaction_id'], ['interaction.id'], name=op.f('fk_utterance_interaction_id_interaction'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_utterance_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_utterance_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_utterance')),
    sa.UniqueConstraint('recording_id', 'seq', name=op.f('uq_utterance_recording_id_seq'))
    )
    with op.batch_alter_table('utterance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_utterance_interaction_id'), ['interaction_id'], unique=False)

    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'called_back', 'rectified', 'closed', name='follow_up_status', native_enum=False, length=32), nullable=False),
    sa.Column('callback_at', sa.DateTime(), nullable=True),
    sa.Column('callback_note', sa.Text(), nullable=True),
    sa.Column('rectification', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['rating_id'], ['rating.id'], name=op.f('fk_follow_up_rating_id_rating'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_follow_up_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_follow_up_rating_id'))
    )
    op.create_table('rule_hit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('utterance_id', sa.Integer(), nullable=False),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('family', sa.Enum('courtesy', 'phone', 'forbidden', name='rule_family', native_enum=False, length=32), nullable=False),
    sa.Column('method', sa.Enum('exact', 'pinyin', 'regional', 'classifier', 'audio', name='match_method', native_enum=False, length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('span_start', sa.Integer(), nullable=False),
    sa.Column('span_end', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('rulebook_version', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['interaction_id'], ['interaction.id'], name=op.f('fk_rule_hit_interaction_id_interaction'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['utterance_id'], ['utterance.id'], name=op.f('fk_rule_hit_utterance_id_utterance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_hit'))
    )
    with op.batch_alter_table('rule_hit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_hit_interaction_id'), ['interaction_id'], unique=False)
        batch_op.create_index('ix_rule_hit_rule', ['rule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_hit_utterance_id'), ['utterance_id'], unique=False)

    op.create_table('flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('forbidden', 'poor_rating', 'missing_courtesy', 'citizen_abuse', 'overdue_follow_up', 'staff_mismatch', 'unlinked_rating', name='flag_kind', native_enum=False, length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('penalised', sa.Boolean(), nullable=False),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('utterance_id', sa.Integer(), nullable=True),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('rating_id', sa.Integer(), nullable=True),
    sa.Column('follow_up_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('open', 'confirmed', 'dismissed', name='flag_status', native_enum=False, length=32), nullable=False),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_up.id'], name=op.f('fk_flag_follow_up_id_follow_up'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['interaction_id'], ['interaction.id'], name=op.f('fk_flag_interaction_id_interaction'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rating_id'], ['rating.id'], name=op.f('fk_flag_rating_id_rating'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recording_id'], ['recording.id'], name=op.f('fk_flag_recording_id_recording'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_flag_staff_id_staff')),
    sa.ForeignKeyConstraint(['utterance_id'], ['utterance.id'], name=op.f('fk_flag_utterance_id_utterance'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['window.id'], name=op.f('fk_flag_window_id_window')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_flag_dedupe_key'))
    )
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_interaction_id'), ['interaction_id'], unique=False)
        batch_op.create_index('ix_flag_kind_status', ['kind', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_flag_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flag_utterance_id'), ['utterance_id'], unique=False)

    op.create_table('review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('inspection', 'appeal', name='review_kind', native_enum=False, length=32), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.Enum('confirm', 'dismiss', 'adjust', 'pending', name='review_decision', native_enum=False, length=32), nullable=False),
    sa.Column('score_adjustment', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['flag.id'], name=op.f('fk_review_flag_id_flag'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['interaction_id'], ['interaction.id'], name=op.f('fk_review_interaction_id_interaction'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_review_reviewer_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review'))
    )
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_flag_id'), ['flag_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_flag_id'))

    op.drop_table('review')
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_utterance_id'))
        batch_op.drop_index(batch_op.f('ix_flag_recording_id'))
        batch_op.drop_index('ix_flag_kind_status')
        batch_op.drop_index(batch_op.f('ix_flag_interaction_id'))

    op.drop_table('flag')
    with op.batch_alter_table('rule_hit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_hit_utterance_id'))
        batch_op.drop_index('ix_rule_hit_rule')
        batch_op.drop_index(batch_op.f('ix_rule_hit_interaction_id'))

    op.drop_table('rule_hit')
    op.drop_table('follow_up')
    with op.batch_alter_table('utterance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_utterance_interaction_id'))

    op.drop_table('utterance')
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index('ix_rating_window_time')

    op.drop_table('rating')
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_window_end')
        batch_op.drop_index('ix_interaction_staff_start')

    op.drop_table('interaction')
    op.drop_table('user_account')
    with op.batch_alter_table('substitution', schema=None) as batch_op:
        batch_op.drop_index('ix_substitution_window_time')

    op.drop_table('substitution')
    op.drop_table('staff_window')
    with op.batch_alter_table('roster_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_entry_window_time')

    op.drop_table('roster_entry')
    op.drop_table('recording')
    with op.batch_alter_table('queue_call', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_call_window_time')

    op.drop_table('queue_call')
    op.drop_table('window')
    op.drop_table('staff')
    op.drop_table('import_run')
    op.drop_table('department')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')

