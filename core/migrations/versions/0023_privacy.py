"""privacy: record_views (who looked at which customer or ticket), privacy_policy (masked roles,
retention periods), ticket_purges and customers.erased_at (an erased customer is anonymised and mailed no more)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_views",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_record_views_customer_at", "record_views", ["customer_id", "at"])
    op.create_index("ix_record_views_ticket_at", "record_views", ["ticket_id", "at"])
    op.create_index("ix_record_views_user_at", "record_views", ["user_id", "at"])
    op.create_index("ix_record_views_at", "record_views", ["at"])
    op.create_table(
        "privacy_policy",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("masked_roles", sa.JSON(), nullable=False),
        sa.Column("ticket_days", sa.Integer(), nullable=True),
        sa.Column("call_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_table(
        "ticket_purges",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("erased_at")
    op.drop_table("ticket_purges")
    op.drop_table("privacy_policy")
    op.drop_index("ix_record_views_at", table_name="record_views")
    op.drop_index("ix_record_views_user_at", table_name="record_views")
    op.drop_index("ix_record_views_ticket_at", table_name="record_views")
    op.drop_index("ix_record_views_customer_at", table_name="record_views")
    op.drop_table("record_views")
