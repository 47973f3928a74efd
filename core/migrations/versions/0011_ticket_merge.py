"""tickets: merged_into_id, so a merged ticket's later mail and calls land in the survivor

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on SQLite (allowed with a NULL default): a batch copy of ``tickets``
    # would drop the old table, and with foreign keys on that cascades into every timeline.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE tickets ADD COLUMN merged_into_id INTEGER REFERENCES tickets (id)")
    else:
        op.add_column("tickets", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_tickets_merged_into", "tickets", "tickets", ["merged_into_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE tickets DROP COLUMN merged_into_id")
    else:
        op.drop_constraint("fk_tickets_merged_into", "tickets", type_="foreignkey")
        op.drop_column("tickets", "merged_into_id")
