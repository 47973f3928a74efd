"""routing_work.team: a ticket a rule gave to a team is offered only to that team's agents

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("routing_work", sa.Column("team", sa.String(length=80), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+) rather than a batch copy: dropping the old table would
    # cascade, with foreign keys on, into the rows that point at it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE routing_work DROP COLUMN team")
    else:
        op.drop_column("routing_work", "team")
