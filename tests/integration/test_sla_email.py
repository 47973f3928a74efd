"""The alert email goes through the same outbox and SMTP sender as customer mail and reaches
a real SMTP server (aiosmtpd on loopback); the manual clock passes the business hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

sink_module = pytest.importorskip("channels.sink")  # the email channel's SMTP sink and sender

from sqlalchemy import select  # noqa: E402

from alerts.wiring import build_sla  # noqa: E402
from config.app import build_services  # noqa: E402
from config.settings import load_settings  # noqa: E402
from core.auth import Actor  # noqa: E402
from core.clock import ManualClock  # noqa: E402
from core.records import (  # noqa: E402
    EntryKind,
    Role,
    User,
)
from core.users import add_user  # noqa: E402
from routing.contact import Contact  # noqa: E402


async def test_the_80_percent_warning_email_reaches_the_smtp_server(database_url: str) -> None:
    from channels.plugin import EmailChannel

    sink = await sink_module.MailSink().start()
    settings = load_settings(
        None, database_url=database_url, timezone="Asia/Shanghai", web={"base_url": "https://desk.example"},
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "plain", "from_address": "alerts@example.com"},
    )
    clock = ManualClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai
    services = build_services(settings, clock)
    parts = build_sla(services)
    channel = EmailChannel(services)
    parts.scanner.on_committed.append(lambda batch: channel.outbox.wake())
    try:
        async with services.db.transaction() as session:
            await parts.store.seed(session)
            agent = await add_user(session, "li", "password1", "Li", ["agent"], email="li@example.com")
        async with services.db.session() as session:
            accepted = await services.desk.accept(
                session, Contact("email", None, subject="Refund"), EntryKind.EMAIL_IN, {"text": "refund?"}
            )
            await services.desk.assign(session, Actor(None, "lead", frozenset(Role)), accepted.ticket.id, agent.id)
            await services.desk.commit_and_publish(session)
        channel.start(ingest=False)
        clock.advance(timedelta(hours=9, minutes=37))  # 9.6 of 12 business hours: Monday 18:00 + Tuesday 09:36
        clock.advance(timedelta(hours=15))
        while await parts.scanner.scan_once():
            pass
        await asyncio.wait_for(sink.arrived.wait(), timeout=10)
        for _ in range(100):  # the delivery is recorded right after the SMTP server accepted it
            async with services.db.session() as session:
                alerts = [e.payload for e in await services.desk.timeline(session, Actor.system(), accepted.ticket.id) if e.kind == "alert"]
            if any(a.get("event") == "delivered" for a in alerts):
                break
            await asyncio.sleep(0.05)
    finally:
        await channel.stop()
        await sink.stop()
        await services.db.close()
    assert any(a.get("event") == "delivered" and a.get("to") == "li@example.com" for a in alerts)
    [mail] = sink.messages
    assert mail.recipients == ["li@example.com"]
    msg = message_from_bytes(mail.data, policy=policy.default)
    assert msg["Subject"].startswith("[SLA] #1001 first response at risk")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "https://desk.example/tickets/1" in msg.get_content()


async def test_a_refused_sms_arrives_as_email_instead(database_url: str) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from channels.plugin import EmailChannel

    async def refuse(_request: web.Request) -> web.Response:
        return web.json_response({"error": "unknown subscriber"}, status=400)

    app = web.Application()
    app.router.add_post("/sms", refuse)
    gateway = TestServer(app, host="127.0.0.1", port=0)
    await gateway.start_server()
    sink = await sink_module.MailSink().start()
    settings = load_settings(
        None, database_url=database_url, web={"base_url": "https://desk.example"},
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "plain"},
        sla={"sms": {"gateway": "http", "http": {"url": str(gateway.make_url("/sms"))}}},
    )
    clock = ManualClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    services = build_services(settings, clock)
    parts = build_sla(services)
    channel = EmailChannel(services)
    parts.sms_delivery.on_fallback.append(channel.outbox.wake)  # as the plugin wires it
    try:
        async with services.db.transaction() as session:
            await parts.store.seed(session)
            await add_user(session, "li", "password1", "Li", ["agent"], email="li@example.com", mobile="+8613800138000")
        async with services.db.session() as session:
            accepted = await services.desk.accept(
                session, Contact("email", None, subject="Refund"), EntryKind.EMAIL_IN, {"text": "refund?"}
            )
            li = (await session.execute(select(User).where(User.login == "li"))).scalar_one()
            await services.desk.assign(session, Actor(None, "lead", frozenset(Role)), accepted.ticket.id, li.id)
            await services.desk.commit_and_publish(session)
        channel.start(ingest=False)
        clock.advance(timedelta(days=2, hours=1))  # past breach, before the supervisors' step
        while await parts.scanner.scan_once():
            pass
        while await parts.sms_worker.run_once():
            pass
        for _ in range(200):
            if any(b"SMS to +8613800138000 failed" in m.data for m in sink.messages):
                break
            await asyncio.sleep(0.05)
    finally:
        await channel.stop()
        await parts.gateway.close()
        await sink.stop()
        await gateway.close()
        await services.db.close()
    fallback = [m for m in sink.messages if b"SMS to +8613800138000 failed" in m.data]
    assert [m.recipients for m in fallback] == [["li@example.com"]]
    assert b"Reply ACK 1001" in fallback[0].data  # the SMS text, now by email
