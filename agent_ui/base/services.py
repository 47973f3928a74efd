"""What the web layer needs from the server: the services and the settings it reads.

Described here as protocols so the web layer depends on the shapes it uses, not on the
composition root that builds them (``config.services.Services`` and
``config.settings.Settings`` satisfy them as they are). Read-only properties, because
a page never replaces a service.
"""

from __future__ import annotations

from typing import Protocol

from agent_ui.base.settings import WebSettings
from alerts.settings import SlaSettings
from core.cluster_settings import ClusterSettings
from core.services import CoreServices
from knowledge.suggestions import TemplateLibrary
from routing.desk import TicketDesk
from routing.search import SearchService
from routing.settings import RoutingSettings


class WebAppSettings(Protocol):
    """The settings pages read: their own section and a few the whole server shares."""

    @property
    def web(self) -> WebSettings: ...
    @property
    def routing(self) -> RoutingSettings: ...
    @property
    def sla(self) -> SlaSettings: ...
    @property
    def timezone(self) -> str: ...
    @property
    def phone_region(self) -> str: ...
    @property
    def cluster(self) -> ClusterSettings: ...


class WebServices(CoreServices, Protocol):
    """The services handlers call (``request.app[SERVICES]``)."""

    @property
    def settings(self) -> WebAppSettings: ...
    @property
    def desk(self) -> TicketDesk: ...
    @property
    def templates(self) -> TemplateLibrary: ...
    @property
    def search(self) -> SearchService: ...
