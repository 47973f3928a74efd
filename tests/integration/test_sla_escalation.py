"""End to end: a ticket waits, the manual clock passes business hours, alerts go out.

The SMS gateway is a real HTTP server on loopback; the scanner and the SMS outbox
worker run as their supervised loops; time moves only through the ManualClock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from alerts.records import Escalation
from alerts.sms.inbound import InboundSms
from alerts.wiring import SlaParts, build_sla
from config.app import build_services
from config.services import Services
from config.settings import load_settings
from core.auth import Actor
from core.clock import ManualClock
from core.records import EntryKind, OutboxMessage, Role, TimelineEntry
from core.supervisor import SupervisedTask
from core.users import add_user
from routing.contact import Contact

MONDAY_17_SHANGHAI = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AGENT_MOBILE = "+8613800138000"
SUPERVISOR_MOBILE = "+8613900139000"


class Gateway:
    """A stand-in SMS gateway: records what it accepts; can be told to refuse."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answer = 202

    async def handle(self, request: web.Request) -> web.Response:
        data = json.loads(await request.read())
        if self.answer >= 300:
            return web.json_response({"error": "refused"}, status=self.answer)
        self.received.append(data)
        return web.json_response({"status": "queued"}, status=self.answer)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/send", gw.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield gw, str(server.make_url("/send"))
    await server.close()


@pytest.fixture
async def desk(database_url: str, gateway: tuple[Gateway, str]) -> AsyncIterator[tuple[Services, SlaParts, ManualClock]]:
    settings = load_settings(
        None,
        database_url=database_url,
        timezone="Asia/Shanghai",
        phone_region="CN",
        web={"base_url": "https://desk.example"},
        sla={"sms": {"gateway": "http", "http": {"url": gateway[1]}, "retry_base_seconds": 30, "max_attempts": 2}},
    )
    clock = ManualClock(MONDAY_17_SHANGHAI)
    services = build_services(settings, clock)
    parts = build_sla(services)
    async with services.db.transaction() as session:
        await parts.store.seed(session)
        await add_user(session, "li", "password1", "Li Agent", ["agent"], mobile="138 0013 8000", email="li@example.com")
        await add_user(session, "wang", "password1", "Wang Sup", ["supervisor"], mobile=SUPERVISOR_MOBILE,
                       email="wang@example.com")
    tasks = [
        SupervisedTask("sla-scanner", parts.scanner.run, services.health),
        SupervisedTask("sms-outbox", parts.sms_worker.run, services.health),
    ]
    for task in tasks:
        task.start()
    yield services, parts, clock
    for task in tasks:
        await task.stop()
    await parts.gateway.close()
    await services.db.close()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    """Wait (real time, for the loops to run) until ``check`` holds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def settle(services: Services, parts: SlaParts) -> None:
    """Let the loops finish what the current time makes due."""
    for _ in range(3):
        await asyncio.sleep(0.05)
        while await parts.scanner.scan_once() or await parts.sms_worker.run_once():
            pass


async def new_email_ticket(services: Services, assignee_login: str | None = "li") -> int:
    async with services.db.session() as session:
        accepted = await services.desk.accept(
            session, Contact("email", None, subject="Refund not received", address="c@example.com"),
            EntryKind.EMAIL_IN, {"text": "where is my refund"},
        )
        ticket_id = accepted.ticket.id
        if assignee_login:
            from core.records import User

            agent = (await session.execute(select(User).where(User.login == assignee_login))).scalar_one()
            await services.desk.assign(session, Actor(None, "lead", frozenset(Role)), ticket_id, agent.id)
        await services.desk.commit_and_publish(session)
    return ticket_id


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar() or 0)


async def test_twelve_business_hours_later_the_assignee_gets_the_sms_and_ack_stops_the_ladder(
    desk: tuple[Services, SlaParts, ManualClock], gateway: tuple[Gateway, str]
) -> None:
    services, parts, clock = desk
    gw = gateway[0]
    ticket_id = await new_email_ticket(services)

    # Tuesday 17:30 local: 9.5 business hours, before the 80 % warning.
    clock.advance(timedelta(hours=24, minutes=30))
    await settle(services, parts)
    assert await count(services, Escalation) == 0

    # Tuesday 17:37: past 80 %, the assignee's warning email is written to the outbox.
    clock.advance(timedelta(minutes=7))
    await eventually(lambda: _has(services, OutboxMessage, OutboxMessage.channel == "email"), "the warning email")
    assert gw.received == []

    # Wednesday 11:00 local is 12 business hours: the SMS reaches the gateway, once.
    clock.advance(timedelta(hours=17, minutes=24))
    await eventually(lambda: _true(len(gw.received) == 1), "the SMS reached the gateway")
    sms = gw.received[0]
    assert sms["to"] == AGENT_MOBILE
    assert "#1001" in sms["text"] and "https://desk.example/tickets/1" in sms["text"]
    assert "first response overdue" in sms["text"]
    await eventually(
        lambda: _has(services, TimelineEntry, TimelineEntry.kind == EntryKind.ALERT.value,
                     TimelineEntry.payload["event"].as_string() == "delivered"),
        "the delivery is on the ticket's timeline",
    )

    # The agent answers the SMS with ACK: the supervisor step an hour later never fires.
    result = await parts.service.acknowledge_by_sms(InboundSms(AGENT_MOBILE, "ack"))
    assert result == {"acknowledged": True, "ticket_id": ticket_id, "escalations": 2}
    clock.advance(timedelta(hours=5))
    await settle(services, parts)
    assert len(gw.received) == 1
    assert await count(services, Escalation) == 2
    assert await count(services, Escalation, Escalation.acknowledged_at.is_(None)) == 0


async def test_a_reply_in_time_sends_nothing(
    desk: tuple[Services, SlaParts, ManualClock], gateway: tuple[Gateway, str]
) -> None:
    services, parts, clock = desk
    ticket_id = await new_email_ticket(services)
    clock.advance(timedelta(hours=20))
    async with services.db.session() as session:
        ticket = await services.desk.get(session, Actor.system(), ticket_id)
        await services.desk.record_reply(session, ticket, Actor.system())
        await services.desk.set_status(session, Actor.system(), ticket_id, "pending-customer")
        await services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=10))
    await settle(services, parts)
    assert await count(services, Escalation) == 0
    assert await count(services, OutboxMessage) == 0
    assert gateway[0].received == []


async def test_a_customer_reply_restarts_the_clock_after_a_pause(
    desk: tuple[Services, SlaParts, ManualClock], gateway: tuple[Gateway, str]
) -> None:
    services, parts, clock = desk
    ticket_id = await new_email_ticket(services)
    async with services.db.session() as session:
        ticket = await services.desk.get(session, Actor.system(), ticket_id)
        await services.desk.record_reply(session, ticket, Actor.system())
        await services.desk.set_status(session, Actor.system(), ticket_id, "pending-customer")
        await services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=3))  # Thursday 17:00 local; paused, nothing due
    await settle(services, parts)
    async with services.db.session() as session:
        accepted = await services.desk.accept(
            session, Contact("email", None, subject="Re: Refund", ticket_id=ticket_id), EntryKind.EMAIL_IN, {"text": "still nothing"},
        )
        assert accepted.ticket.sla_target == "next_response"
        await services.desk.commit_and_publish(session)
    clock.advance(timedelta(days=1, hours=19))  # Saturday: 10 of the 12 business hours passed
    await settle(services, parts)
    assert gateway[0].received == []
    clock.advance(timedelta(days=1, hours=23, minutes=30))  # Monday 11:30 local: 30 minutes overdue
    await eventually(lambda: _true(len(gateway[0].received) == 1), "the next-response SMS")
    assert gateway[0].received[0]["to"] == AGENT_MOBILE
    assert "next response overdue by 30m" in gateway[0].received[0]["text"]


async def test_a_refused_sms_falls_back_to_email_and_shows_on_the_ticket(
    desk: tuple[Services, SlaParts, ManualClock], gateway: tuple[Gateway, str]
) -> None:
    services, parts, clock = desk
    gateway[0].answer = 400
    await new_email_ticket(services)
    clock.advance(timedelta(days=2))  # Wednesday 17:00 local: past breach
    await eventually(lambda: _has(services, OutboxMessage, OutboxMessage.status == "failed"), "the SMS failed")
    await eventually(
        lambda: _has(services, OutboxMessage, OutboxMessage.channel == "email", OutboxMessage.recipient == "li@example.com",
                     OutboxMessage.dedup_key.like("%:fallback")),
        "the fallback email is in the outbox",
    )
    async with services.db.session() as session:
        supervisor = Actor(None, "wang", frozenset({Role.SUPERVISOR, Role.AGENT}))
        log = await parts.service.alerts_log(session, supervisor)
        failures = await parts.service.failures(session, supervisor)
    assert any(d["status"] == "failed" for e in log for d in e["deliveries"])
    assert "li@example.com" in {f.payload["fallback"] for f in failures}


async def _has(services: Services, model: Any, *where: Any) -> bool:
    return await count(services, model, *where) > 0


async def _true(value: bool) -> bool:
    return value




async def test_solving_stops_the_clock_and_reopening_starts_it_again(
    desk: tuple[Services, SlaParts, ManualClock], gateway: tuple[Gateway, str]
) -> None:
    services, parts, clock = desk
    ticket_id = await new_email_ticket(services)
    async with services.db.session() as session:
        await services.desk.set_status(session, Actor.system(), ticket_id, "solved")
        await services.desk.commit_and_publish(session)
        ticket = await services.desk.get(session, Actor.system(), ticket_id)
        assert ticket.due_at is None and ticket.sla_state["targets"] == {}
    clock.advance(timedelta(days=5))
    await settle(services, parts)
    assert await count(services, Escalation) == 0
    async with services.db.session() as session:
        ticket = await services.desk.set_status(session, Actor.system(), ticket_id, "open")
        assert set(ticket.sla_state["targets"]) == {"next_response", "resolution"}
        assert ticket.due_at is not None
        await services.desk.commit_and_publish(session)
