"""insert sentinels: batched INSERT ... RETURNING on SQLite

SQLite cannot tie the ids RETURNING gives to the rows of a multi-row INSERT, so
SQLAlchemy writes such rows one statement each. A nullable sentinel column, filled
by the ORM during the INSERT only, lets it batch them: mail ingest writes a whole
fetch batch of tickets, entries and messages in a few statements instead of hundreds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("customers", "tickets", "timeline_entries", "outbox", "mail_messages", "mail_references", "mail_attachments")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("_sentinel")
