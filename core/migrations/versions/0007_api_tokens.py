"""api tokens: named tokens end (expiry), can be revoked, and can be told apart (hint)

Tokens made before this revision never expired; they now expire 90 days after the
upgrade, so scripts keep working while their owners replace them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hint", sa.String(length=16), nullable=False, server_default=""))
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(
        tokens.update().where(tokens.c.expires_at.is_(None))
        .values(expires_at=datetime.now(UTC) + timedelta(days=90))
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index(batch.f("ix_api_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index(batch.f("ix_api_tokens_expires_at"))
        batch.drop_column("hint")
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
