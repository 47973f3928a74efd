"""server_keys: the signing key a server makes at its first start when web.secret_key is not
set, so sessions, customers' rating links and form tokens outlive a restart and hold on
every instance

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=40), primary_key=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_keys")
