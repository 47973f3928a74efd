"""Pages and APIs for running the desk: knowledge (templates, articles), SLA policies and
alerts (as YAML and as forms), routing rules and offers, API tokens, custom ticket fields, macros,
queues and mailboxes, outbound webhooks, customer tier rules."""

from __future__ import annotations

from aiohttp import web

from agent_ui.admin import (
    alerts_views,
    complaint_category_views,
    field_admin_views,
    knowledge_views,
    macro_admin_views,
    routing_views,
    setup_views,
    sla_forms_views,
    tier_views,
    tokens_views,
    webhooks_views,
)


def setup(app: web.Application) -> None:
    knowledge_views.setup_routes(app)
    alerts_views.setup_routes(app)
    sla_forms_views.setup_routes(app)
    setup_views.setup_routes(app)
    routing_views.setup_routes(app)
    tokens_views.setup_routes(app)
    field_admin_views.setup_routes(app)
    macro_admin_views.setup_routes(app)
    webhooks_views.setup_routes(app)
    tier_views.setup_routes(app)
    complaint_category_views.setup_routes(app)
