"""reply_drafts: what an agent has typed in a ticket's reply composer, per ticket and person

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("cc", sa.String(length=4000), nullable=False),
        sa.Column("bcc", sa.String(length=4000), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket_id", "user_id", name="uq_reply_drafts_ticket_user"),
    )
    op.create_index("ix_reply_drafts_ticket_id", "reply_drafts", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_reply_drafts_ticket_id", table_name="reply_drafts")
    op.drop_table("reply_drafts")
