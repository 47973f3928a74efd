"""The SLA plugin inside the real server: seeds policies, adopts tickets made before it started,
runs the scanner and the SMS worker, and in demo mode sends the breach SMS to its local sink."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from alerts.keys import SLA
from alerts.records import SlaPolicy
from config.app import build_app, build_services
from config.settings import load_settings
from core.auth import Actor
from core.clock import ManualClock
from core.records import EntryKind, Ticket
from routing.contact import Contact


async def test_demo_policy_breaches_in_minutes_and_the_sms_reaches_the_sink(database_url: str) -> None:
    settings = load_settings(None, database_url=database_url, sla={"demo": True})
    clock = ManualClock()
    services = build_services(settings, clock)
    # A ticket made before the server (and its SLA plugin) started, as the demo's sample data is.
    async with services.db.session() as session:
        accepted = await services.desk.accept(
            session, Contact("email", None, subject="Where is my order?"), EntryKind.EMAIL_IN, {"text": "?"}
        )
        await services.desk.commit_and_publish(session)
    assert accepted.ticket.due_at is None

    app = build_app(settings, services)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        parts = app[SLA]
        async with services.db.session() as session:
            names = set((await session.execute(select(SlaPolicy.name))).scalars())
        assert {"demo", "email", "callback", "default"} <= names

        async def clocked() -> Ticket:
            async with services.db.session() as session:
                return await services.desk.get(session, Actor.system(), accepted.ticket.id)

        for _ in range(200):
            if (await clocked()).sla_policy == "demo":
                break
            await asyncio.sleep(0.02)
        assert (await clocked()).sla_policy == "demo"

        clock.advance(timedelta(minutes=3, seconds=1))  # the demo target is 3 minutes
        assert parts.sms_sink is not None
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                async with http.get(f"http://127.0.0.1:{parts.sms_sink.port}/") as resp:
                    received = json.loads(await resp.text())
                if received:
                    break
                await asyncio.sleep(0.02)
        assert [r["to"] for r in received] == ["+15555550100"]
        assert accepted.ticket.tag in received[0]["text"]
        assert services.health.snapshot()  # the scanner and the worker report health
    finally:
        await server.close()
