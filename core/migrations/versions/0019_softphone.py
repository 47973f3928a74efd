"""users.softphone: the agent takes calls in the console's browser phone (WebRTC), not a desk phone

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("softphone", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+) rather than a batch copy: dropping the users table would
    # cascade, with foreign keys on, into every row that points at a user.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN softphone")
    else:
        op.drop_column("users", "softphone")
