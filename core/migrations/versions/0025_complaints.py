"""complaints from every channel: complaint_categories (admin-kept, names per language), and on
tickets the complaint category and when the ticket became a complaint (what the report counts)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

# The categories a new install starts with; "bad-rating" is the one a bad customer rating sets.
SEED = [
    ("bad-rating", {"en": "Bad rating", "zh_CN": "差评", "es": "Mala valoración"}),
    ("product-quality", {"en": "Product quality", "zh_CN": "产品质量", "es": "Calidad del producto"}),
    ("service", {"en": "Service", "zh_CN": "服务态度", "es": "Atención recibida"}),
    ("billing", {"en": "Billing", "zh_CN": "账单费用", "es": "Facturación"}),
    ("delivery", {"en": "Delivery", "zh_CN": "物流配送", "es": "Entrega"}),
]


def upgrade() -> None:
    categories = op.create_table(
        "complaint_categories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key"),
    )
    op.add_column("tickets", sa.Column("complaint_category", sa.String(length=40), nullable=True))
    op.add_column("tickets", sa.Column("complained_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_tickets_complaint_category", "tickets", ["complaint_category"])
    op.create_index("ix_tickets_complained_at", "tickets", ["complained_at"])
    now = sa.func.now()
    for n, (key, names) in enumerate(SEED):
        op.execute(categories.insert().values(key=key, names=names, active=True, position=n, created_at=now))


def downgrade() -> None:
    op.drop_index("ix_tickets_complained_at", table_name="tickets")
    op.drop_index("ix_tickets_complaint_category", table_name="tickets")
    op.drop_column("tickets", "complained_at")
    op.drop_column("tickets", "complaint_category")
    op.drop_table("complaint_categories")
