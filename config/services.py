"""The services every feature is built from, passed in explicitly (no globals).

Features do not import this container: each names what it uses as a protocol
(``core.services.CoreServices`` and extensions such as ``agent_ui.base.services.WebServices``,
``cti.plugin.CtiServices``, ``channels.plugin.EmailServices``, ``alerts.wiring.SlaServices``),
which this dataclass satisfies; mypy checks that where the composition root hands it over.
"""

from __future__ import annotations

import dataclasses

from config.settings import Settings
from core.clock import Clock
from core.db import Database
from core.events import EventBus
from core.health import HealthRegistry
from core.ownership import Ownership
from core.template_workers import TemplateRenderer
from knowledge.suggestions import TemplateLibrary
from routing.desk import TicketDesk
from routing.search import SearchService


@dataclasses.dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    clock: Clock
    desk: TicketDesk
    health: HealthRegistry
    templates: TemplateLibrary
    # Which PBX links and mailboxes this instance runs (advisory locks on PostgreSQL).
    ownership: Ownership
    # The render workers every ops-authored template goes through (started on first use).
    renderer: TemplateRenderer = dataclasses.field(default_factory=TemplateRenderer)
    # Ticket and customer search over the index every flush of ``db`` keeps current.
    search: SearchService = dataclasses.field(default_factory=SearchService)
