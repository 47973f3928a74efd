"""cti: each agent's segment of a call (talk time after transfers), calls ended during a PBX outage

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("interface", sa.String(80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.UniqueConstraint("call_id", "position", name="uq_call_segments_call_position"),
    )
    op.create_index("ix_call_segments_agent_started", "call_segments", ["agent_id", "started_at"])
    # A plain ADD COLUMN (SQLite allows it with a constant default): no batch copy of ``calls``.
    op.add_column("calls", sa.Column("ended_during_outage", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("ended_during_outage")
    op.drop_index("ix_call_segments_agent_started", table_name="call_segments")
    op.drop_table("call_segments")
