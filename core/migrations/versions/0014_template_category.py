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
    with op.batch_alter_table("reply_templates") as batch:
        batch.drop_column("category")
