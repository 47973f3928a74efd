"""The CTI as an aiohttp cleanup-ctx: start one supervised link per configured PBX, stop cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from aiohttp import web

from core.services import CoreServices
from cti.service import CtiService
from cti.settings import PbxSettings
from routing.desk import TicketDesk

CTI: web.AppKey[CtiService] = web.AppKey("cti", CtiService)


class CrmLinkSettings(Protocol):
    @property
    def crm_url(self) -> str | None: ...


class CtiSettings(Protocol):
    """What the CTI reads of the server's settings."""

    @property
    def web(self) -> CrmLinkSettings: ...

    @property
    def pbx(self) -> list[PbxSettings]: ...
    @property
    def phone_region(self) -> str: ...


class CtiServices(CoreServices, Protocol):
    """What the CTI is built from (the composition root's container satisfies it)."""

    @property
    def settings(self) -> CtiSettings: ...
    @property
    def desk(self) -> TicketDesk: ...


def plugin(services: CtiServices) -> Callable[[web.Application], AsyncIterator[None]]:
    async def cti(app: web.Application) -> AsyncIterator[None]:
        settings = services.settings
        service = CtiService(
            settings.pbx, services.db, services.bus, services.desk, services.health, services.clock,
            region=settings.phone_region,
            crm_url=settings.web.crm_url or next((p.crm_url for p in settings.pbx if p.crm_url), None),
            ownership=services.ownership,
        )
        app[CTI] = service
        await service.start()
        yield
        await service.stop()

    return cti
