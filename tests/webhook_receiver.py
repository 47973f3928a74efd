"""A CRM's webhook endpoint on loopback, for the webhook tests: answers with the statuses it is
told to (then 200) and keeps every request it got."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delay_s: float = 0.0  # a slow receiver: answers after this long

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    got = Receiver()

    async def hook(request: web.Request) -> web.Response:
        got.received.append((dict(request.headers), await request.read()))
        if got.delay_s:
            await asyncio.sleep(got.delay_s)
        return web.Response(status=got.statuses.pop(0) if got.statuses else 200, text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    got.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield got
    finally:
        await runner.cleanup()
