"""routing_rule_versions.restored_from: the version a restore brought back (the history shows
the restore's note in the reader's language from it, not by reading the English note)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""
import re

from alembic import op
import sqlalchemy as sa

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_NOTE = re.compile(r"restored version (\d+)")


def upgrade() -> None:
    with op.batch_alter_table("routing_rule_versions") as batch:
        batch.add_column(sa.Column("restored_from", sa.Integer(), nullable=True))
    # Restores saved before: their note is the (untranslated) English one.
    versions = sa.table("routing_rule_versions", sa.column("id", sa.Integer), sa.column("note", sa.String),
                        sa.column("restored_from", sa.Integer))
    bind = op.get_bind()
    rows = bind.execute(sa.select(versions.c.id, versions.c.note).where(versions.c.note.like("restored version %")))
    for row_id, note in rows.fetchall():
        if (found := _NOTE.fullmatch(note or "")) is not None:
            bind.execute(versions.update().where(versions.c.id == row_id).values(restored_from=int(found.group(1))))


def downgrade() -> None:
    with op.batch_alter_table("routing_rule_versions") as batch:
        batch.drop_column("restored_from")
