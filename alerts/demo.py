"""For ``make demo``: a policy that breaches within minutes, and a local SMS sink.

Enable with ``sla: {demo: true}`` (``FRONTDESK_SLA__DEMO=true``, or ``with_sla_demo(settings)``
in ``config.demo.demo_extras``). The plugin then
seeds the ``demo`` policy ahead of the others and, when no gateway is configured,
starts ``SmsSink`` on a free loopback port and sends SMS there; the sink logs each
message and lists them at its own ``/`` page.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, Self, TypeVar

from aiohttp import web

from alerts.settings import LevelDefinition, PolicyDefinition, SlaSettings, SmsHttpSettings
from core.clock import utcnow


class WithSla(Protocol):
    """Settings with an SLA section that can be copied with changes (the server's own)."""

    @property
    def sla(self) -> SlaSettings: ...
    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


SettingsT = TypeVar("SettingsT", bound=WithSla)

log = logging.getLogger(__name__)

DEMO_POLICY = PolicyDefinition(
    name="demo",
    position=0,
    calendar=None,
    first_response_minutes=3,
    next_response_minutes=3,
    levels=[
        LevelDefinition(at="50%", channels=["email"], recipients=["assignee"]),
        LevelDefinition(at="+0", channels=["sms"], recipients=["assignee", "phone:+15555550100"]),
        LevelDefinition(at="+1m", channels=["sms", "email"], recipients=["supervisors"]),
    ],
)


@dataclasses.dataclass(frozen=True, slots=True)
class ReceivedSms:
    at: datetime
    to: str
    text: str
    reference: str


class SmsSink:
    """A stand-in SMS gateway on loopback: accepts the HTTP gateway's JSON and logs it."""

    def __init__(self) -> None:
        self.received: list[ReceivedSms] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _accept(self, request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        sms = ReceivedSms(utcnow(), str(data.get("to")), str(data.get("text")), str(data.get("reference")))
        self.received.append(sms)
        log.warning("SMS sink: to %s: %s", sms.to, sms.text)
        return web.json_response({"status": "accepted", "id": len(self.received)})

    async def _list(self, _request: web.Request) -> web.Response:
        rows = [{"at": s.at.isoformat(), "to": s.to, "text": s.text} for s in reversed(self.received)]
        return web.json_response(rows)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SmsHttpSettings:
        app = web.Application()
        app.router.add_post("/sms", self._accept)
        app.router.add_get("/", self._list)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return SmsHttpSettings(url=f"http://{host}:{self.port}/sms")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def with_sla_demo(settings: SettingsT) -> SettingsT:
    """The demo's settings: the short policy seeded, SMS to the in-process sink."""
    return settings.model_copy(update={"sla": settings.sla.model_copy(update={"demo": True})})
