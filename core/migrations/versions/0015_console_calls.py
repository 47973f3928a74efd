"""cti: call_offers, whose phone rang for which call (the console's recent calls keep missed pops)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("interface", sa.String(80), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("call_id", "user_id", name="uq_call_offers_call_user"),
    )
    op.create_index("ix_call_offers_user_offered", "call_offers", ["user_id", "offered_at"])


def downgrade() -> None:
    op.drop_index("ix_call_offers_user_offered", table_name="call_offers")
    op.drop_table("call_offers")
