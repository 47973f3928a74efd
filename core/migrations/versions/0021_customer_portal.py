"""customer portal: help_deflections (articles that answered a question before it became a ticket),
customer_sign_in_links (one-time links, hashed), customer_sessions (customers' own sign-ins) and
ticket_ratings (customer satisfaction, one per ticket)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "help_deflections",
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("knowledge_articles.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "customer_sign_in_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_customer_sign_in_links_customer_id", "customer_sign_in_links", ["customer_id"])
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_customer_sessions_customer_id", "customer_sessions", ["customer_id"])
    op.create_index("ix_customer_sessions_expires_at", "customer_sessions", ["expires_at"])

    op.create_table(
        "ticket_ratings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_ticket_ratings_agent_id", "ticket_ratings", ["agent_id"])
    op.create_index("ix_ticket_ratings_created_at", "ticket_ratings", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_ratings_created_at", table_name="ticket_ratings")
    op.drop_index("ix_ticket_ratings_agent_id", table_name="ticket_ratings")
    op.drop_table("ticket_ratings")
    op.drop_index("ix_customer_sessions_expires_at", table_name="customer_sessions")
    op.drop_index("ix_customer_sessions_customer_id", table_name="customer_sessions")
    op.drop_table("customer_sessions")
    op.drop_index("ix_customer_sign_in_links_customer_id", table_name="customer_sign_in_links")
    op.drop_table("customer_sign_in_links")
    op.drop_table("help_deflections")
