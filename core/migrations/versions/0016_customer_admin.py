"""customers: merged_into_id and tier_reason; customer_merges records what a merge moved

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs on SQLite: a batch copy of ``customers`` would drop the old table, and
    # with foreign keys on that cascades into phones, emails and the search index.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE customers ADD COLUMN merged_into_id INTEGER REFERENCES customers (id)")
        op.execute("ALTER TABLE customers ADD COLUMN tier_reason VARCHAR(200) DEFAULT '' NOT NULL")
    else:
        op.add_column("customers", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_customers_merged_into", "customers", "customers", ["merged_into_id"], ["id"])
        op.add_column("customers", sa.Column("tier_reason", sa.String(length=200), server_default="", nullable=False))
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["survivor_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["merged_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_merges_survivor_id", "customer_merges", ["survivor_id"])
    op.create_index("ix_customer_merges_merged_id", "customer_merges", ["merged_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_merges_merged_id", table_name="customer_merges")
    op.drop_index("ix_customer_merges_survivor_id", table_name="customer_merges")
    op.drop_table("customer_merges")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE customers DROP COLUMN tier_reason")
        op.execute("ALTER TABLE customers DROP COLUMN merged_into_id")
    else:
        op.drop_column("customers", "tier_reason")
        op.drop_constraint("fk_customers_merged_into", "customers", type_="foreignkey")
        op.drop_column("customers", "merged_into_id")
