"""routing: versioned rule sets, snapshots of routed contacts, work pushed to agents and its offers

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_rule_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, unique=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "routed_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("address", sa.String(320), nullable=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(100), nullable=True),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("_sentinel", sa.Integer(), nullable=True),
    )
    op.create_index("ix_routed_contacts_at", "routed_contacts", ["at"])
    op.create_index("ix_routed_contacts_address_at", "routed_contacts", ["address", "at"])
    op.create_index("ix_routed_contacts_ticket_id", "routed_contacts", ["ticket_id"])
    op.create_table(
        "routing_work",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("skill", sa.String(80), nullable=True),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("preferred_agent_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("offered_to", sa.Integer(), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_routing_work_state_rank", "routing_work", ["state", "priority", "created_at"])
    op.create_table(
        "routing_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("work_id", sa.Integer(), sa.ForeignKey("routing_work.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
    )
    op.create_index("ix_routing_offers_work_id", "routing_offers", ["work_id"])
    op.create_index("ix_routing_offers_agent_outcome", "routing_offers", ["agent_id", "outcome"])


def downgrade() -> None:
    op.drop_index("ix_routing_offers_agent_outcome", table_name="routing_offers")
    op.drop_index("ix_routing_offers_work_id", table_name="routing_offers")
    op.drop_table("routing_offers")
    op.drop_index("ix_routing_work_state_rank", table_name="routing_work")
    op.drop_table("routing_work")
    op.drop_index("ix_routed_contacts_ticket_id", table_name="routed_contacts")
    op.drop_index("ix_routed_contacts_address_at", table_name="routed_contacts")
    op.drop_index("ix_routed_contacts_at", table_name="routed_contacts")
    op.drop_table("routed_contacts")
    op.drop_table("routing_rule_versions")
