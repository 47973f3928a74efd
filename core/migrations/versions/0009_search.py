"""search: index terms of tickets, timeline entries and customers; FTS5 on SQLite, GIN on PostgreSQL

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "ref_id", name="uq_search_ref"),
    )
    op.create_index("ix_search_documents_ticket_id", "search_documents", ["ticket_id"])
    op.create_index("ix_search_documents_customer_id", "search_documents", ["customer_id"])
    if op.get_bind().dialect.name == "sqlite":
        # External-content FTS5 over the terms column, kept in step by triggers; the terms
        # are already folded and split, so unicode61 only has to split on the spaces.
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='search_documents', "
            "content_rowid='id', tokenize=\"unicode61 remove_diacritics 0\")"
        )
        op.execute(
            "CREATE TRIGGER search_fts_ai AFTER INSERT ON search_documents BEGIN "
            "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END"
        )
        op.execute(
            "CREATE TRIGGER search_fts_ad AFTER DELETE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END"
        )
        op.execute(
            "CREATE TRIGGER search_fts_au AFTER UPDATE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
            "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END"
        )
    else:
        # Stored, so a search that walks the newest documents first reads each one's vector
        # instead of parsing its terms again.
        op.execute(
            "ALTER TABLE search_documents ADD COLUMN terms_tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED"
        )
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (terms_tsv)")
    # Index what an existing installation already holds (nothing on a new one).
    from core.search_index import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS search_fts_au")
        op.execute("DROP TRIGGER IF EXISTS search_fts_ad")
        op.execute("DROP TRIGGER IF EXISTS search_fts_ai")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
