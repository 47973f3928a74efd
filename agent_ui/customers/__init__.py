"""Customer management: the directory with search, a customer's page, create and edit, merge
and undo, linking a ticket, CSV import (dry run first) and export; their REST endpoints; the CRM's updates by its id;
a customer's tier override."""

from __future__ import annotations

from aiohttp import web

from agent_ui.customers import api, crm_api, csv_views, views


def setup(app: web.Application) -> None:
    csv_views.setup_routes(app)  # /customers/import and /customers/export.csv before /customers/{id}
    views.setup_routes(app)
    api.setup_routes(app)
    crm_api.setup_routes(app)
