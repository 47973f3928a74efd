"""reply_templates.category: ops group templates; a routing rule may select on the top suggestion's

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reply_templates", sa.Column("category", sa.String(length=80), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+) rather than a batch copy: dropping the old table would
    # cascade, with foreign keys on, into the rows that point at it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE reply_templates DROP COLUMN category")
    else:
        op.drop_column("reply_templates", "category")
