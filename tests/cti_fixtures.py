"""A site wired to a simulated PBX: ``phone_site`` gives (WebSite, AmiSimulator).

Users ``agent``, ``agent2`` and ``supervisor`` sit at PJSIP/1001..1003 (queue ``support``,
static members; ``sales`` empty for dynamic log-ins). The CTI link is up and resynced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp.test_utils import TestServer
from web_fixtures import PASSWORD, STAFF, WebSite

from config.app import build_app, build_services
from config.settings import Settings
from core.users import add_user
from cti.plugin import CTI
from cti.settings import PbxSettings
from cti.simulator import AmiSimulator

EXTENSIONS = {"agent": "1001", "agent2": "1002", "supervisor": "1003"}


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def phone_site(settings: Settings) -> AsyncIterator[tuple[WebSite, AmiSimulator]]:
    sim = AmiSimulator("cti", "s3cret", queues={"support": ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"], "sales": []},
                       answer_delay_s=0.05)
    await sim.start()
    pbx = {"name": "sim", "port": sim.port, "username": "cti", "secret": "s3cret", "md5_auth": True,
           "ping_interval": 1.0, "action_timeout": 2.0}
    configured = settings.model_copy(update={"pbx": [PbxSettings.model_validate(pbx)]})
    services = build_services(configured)
    async with services.db.transaction() as session:
        users = {login: await add_user(session, login, PASSWORD, login.capitalize(), roles, extension=EXTENSIONS.get(login))
                 for login, roles in STAFF.items()}
    app = build_app(configured, services)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    site = WebSite(server, services, users)
    link = app[CTI].lines["sim"].link
    await until(lambda: link.up and link.resyncs >= 1)
    try:
        yield site, sim
    finally:
        for client in site.clients:
            await client.close()
        await server.close()
        await sim.close()
        await services.db.close()
