"""pbx_commands: call control asked for on an instance that does not own the PBX link

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pbx_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("pbx", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_pbx_commands_key"),
    )
    op.create_index("ix_pbx_commands_pbx_status", "pbx_commands", ["pbx", "status"])


def downgrade() -> None:
    op.drop_index("ix_pbx_commands_pbx_status", table_name="pbx_commands")
    op.drop_table("pbx_commands")
