"""customers: tier_override, tier_computed_at, attributes (CRM); tier_rules

Customers whose tier was typed deliberately (VIP, or with a reason written) keep it as a
manual override, so defining tier rules later does not silently take a VIP's tier away.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs on SQLite (see 0016: a batch copy of ``customers`` would cascade).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE customers ADD COLUMN tier_override VARCHAR(20)")
        op.execute("ALTER TABLE customers ADD COLUMN tier_computed_at DATETIME")
        op.execute("ALTER TABLE customers ADD COLUMN attributes JSON DEFAULT '{}' NOT NULL")
    else:
        op.add_column("customers", sa.Column("tier_override", sa.String(length=20), nullable=True))
        op.add_column("customers", sa.Column("tier_computed_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column("customers", sa.Column("attributes", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
    op.create_index("ix_customers_tier_computed_at", "customers", ["tier_computed_at"])
    op.execute("UPDATE customers SET tier_override = tier WHERE tier = 'vip' OR tier_reason <> ''")
    op.create_table(
        "tier_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("tier_rules")
    op.drop_index("ix_customers_tier_computed_at", table_name="customers")
    if op.get_bind().dialect.name == "sqlite":
        for column in ("attributes", "tier_computed_at", "tier_override"):
            op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
    else:
        for column in ("attributes", "tier_computed_at", "tier_override"):
            op.drop_column("customers", column)
