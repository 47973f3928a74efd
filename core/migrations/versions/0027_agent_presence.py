"""users.presence_state, presence_reason, presence_at: an agent's own console choice (ready,
paused, offline), known to every server process and to one started later

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("presence_state", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("presence_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("presence_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("presence_at")
        batch.drop_column("presence_reason")
        batch.drop_column("presence_state")
