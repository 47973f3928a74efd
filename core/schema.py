"""All tables, gathered for Alembic: importing each package's records registers them."""

from __future__ import annotations

import importlib

from core.records import Base

# Feature packages that own tables; each has a ``records`` module on the shared Base.
_RECORD_MODULES = ("core.tier_records", "cti.records", "channels.records", "knowledge.records", "alerts.records",
                   "routing.records", "integrations.records", "privacy.records")

for _name in _RECORD_MODULES:
    importlib.import_module(_name)

metadata = Base.metadata

# Database objects a migration creates that no model describes: the search index is
# engine-specific (an FTS5 table and its shadow tables on SQLite, a stored tsvector column
# and its GIN index on PostgreSQL), so the schema comparison leaves them out.
UNMODELLED_NAMES = frozenset({
    "search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize", "search_fts_config",
    "search_fts_content", "ix_search_documents_tsv", "terms_tsv",
})


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's filter: everything but ``UNMODELLED_NAMES``."""
    return name not in UNMODELLED_NAMES
