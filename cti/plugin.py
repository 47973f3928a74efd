"""The CTI as an aiohttp cleanup-ctx: start one supervised link per configured PBX, stop cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from config.services import Services
from cti.service import CtiService

CTI: web.AppKey[CtiService] = web.AppKey("cti", CtiService)


def plugin(services: Services) -> Callable[[web.Application], AsyncIterator[None]]:
    async def cti(app: web.Application) -> AsyncIterator[None]:
        settings = services.settings
        service = CtiService(
            settings.pbx, services.db, services.bus, services.desk, services.health, services.clock,
            region=settings.phone_region,
            crm_url=next((p.crm_url for p in settings.pbx if p.crm_url), None),
        )
        app[CTI] = service
        await service.start()
        yield
        await service.stop()

    return cti
