"""cti: calls and agent state from the PBX

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx", sa.String(length=80), nullable=False),
        sa.Column("linkedid", sa.String(length=80), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=80), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("interface", sa.String(length=80), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index("ix_calls_queue_joined", ["queue", "joined_at"], unique=False)
        batch_op.create_index("ix_calls_started", ["started_at"], unique=False)

    op.create_table(
        "agent_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("pbx", sa.String(length=80), nullable=False),
        sa.Column("interface", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_states", schema=None) as batch_op:
        batch_op.create_index("ix_agent_states_user_started", ["user_id", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_table("agent_states")
    op.drop_table("calls")
