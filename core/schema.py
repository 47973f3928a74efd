"""All tables, gathered for Alembic: importing each package's records registers them."""

from __future__ import annotations

import importlib

from core.records import Base

# Feature packages that own tables; each has a ``records`` module on the shared Base.
_RECORD_MODULES = ("cti.records", "channels.records", "knowledge.records", "alerts.records", "routing.records")

for _name in _RECORD_MODULES:
    importlib.import_module(_name)

metadata = Base.metadata
