"""Retention: after the periods an admin sets, closed tickets lose their messages and
attachments and calls their numbers, counted first by a dry run (page and CLI); the tickets
and calls themselves stay for the reports."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from web_fixtures import WebSite

from channels.records import MailAttachment, MailMessage
from config.cli import main
from config.services import Services
from core.records import Ticket, TimelineEntry
from cti.records import CallRecord
from privacy import PrivacySettings, dry_run, run_retention
from privacy.records import TicketPurge

SECRET = "my card number is 4111 1111 1111 1111"


async def _seed(services: Services, closed_old: int = 1) -> None:
    now = services.clock.now()
    old, recent = now - timedelta(days=400), now - timedelta(days=5)
    async with services.db.transaction() as session:
        specs = [("solved", old)] * closed_old + [("closed", recent), ("open", old)]
        for status, at in specs:
            ticket = Ticket(subject="Card problem", status=status, channel="email", queue="support",
                            created_at=at, updated_at=at, solved_at=at if status != "open" else None)
            session.add(ticket)
            await session.flush()
            entry = TimelineEntry(ticket_id=ticket.id, kind="email_in", created_at=at,
                                  payload={"from": "x@example.com", "subject": "Card", "text": SECRET})
            session.add_all([entry, TimelineEntry(ticket_id=ticket.id, kind="status", payload={"status": status})])
            await session.flush()
            message = MailMessage(direction="in", ticket_id=ticket.id, entry_id=entry.id, sender="x@example.com",
                                  raw=SECRET.encode())
            session.add(message)
            await session.flush()
            session.add(MailAttachment(message_row_id=message.id, filename="card.png", content_type="image/png",
                                       size=3, data=b"png"))
        session.add_all([CallRecord(pbx="p", linkedid="1", direction="inbound", number="+34600000001",
                                    caller_name="Ana", started_at=old, outcome="answered"),
                         CallRecord(pbx="p", linkedid="2", direction="inbound", number="+34600000002",
                                    started_at=recent, outcome="answered")])


async def test_the_admin_sets_periods_sees_the_dry_run_and_the_job_purges_only_what_is_due(site: WebSite) -> None:
    services = site.services
    await _seed(services)
    admin = await site.login("admin")
    page = await admin.api("GET", "/admin/privacy")
    assert "0 closed tickets" in page  # nothing is purged until a period is set
    refused = await admin.http.post("/admin/privacy", data={"csrf_token": admin.csrf_token or "", "ticket_days": "-3"})
    assert refused.status == 400 and 'data-field="ticket_days"' in await refused.text()
    await admin.http.post("/admin/privacy", data={"csrf_token": admin.csrf_token or "", "ticket_days": "365",
                                                  "call_days": "90"})
    page = await admin.api("GET", "/admin/privacy")
    assert "the contents of 1 closed tickets (1 attachments) and the numbers of 1 call records" in page
    assert (await (await site.login("agent")).http.get("/admin/privacy")).status == 403
    async with services.db.session() as session:
        counted = await dry_run(session, PrivacySettings(ticket_days=365, call_days=90), services.clock.now())
    assert counted.as_dict() == {"tickets": 1, "attachments": 1, "calls": 1}

    done = await run_retention(services.db, services.clock.now())
    assert (done.tickets, done.calls) == (1, 1)
    async with services.db.session() as session:
        texts = [e.payload.get("text") for e in (await session.execute(
            select(TimelineEntry).where(TimelineEntry.kind == "email_in").order_by(TimelineEntry.id))).scalars()]
        assert texts == ["", SECRET, SECRET]  # the old closed one only; the recent and the open keep theirs
        assert await session.scalar(select(func.count()).select_from(MailAttachment)) == 2
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 3
        raws = [m.raw for m in (await session.execute(select(MailMessage).order_by(MailMessage.id))).scalars()]
        assert raws[0] is None and raws[1] == SECRET.encode()
        calls = [(c.number, c.caller_name, c.outcome) for c in (await session.execute(
            select(CallRecord).order_by(CallRecord.id))).scalars()]
        assert calls == [("", "", "answered"), ("+34600000002", "", "answered")]
        status = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == "status")
                                        .order_by(TimelineEntry.id))).scalars().first()
        assert status is not None and status.payload == {"status": "solved"}
    again = await run_retention(services.db, services.clock.now())
    assert (again.tickets, again.calls) == (0, 0)
    assert "the contents of 0 closed tickets" in await admin.api("GET", "/admin/privacy")


def test_the_cli_counts_first(database_url: str, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)
    assert main(["retention", "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out == {"dry_run": True, "ticket_days": None, "call_days": None,
                   "due": {"tickets": 0, "attachments": 0, "calls": 0}}


@pytest.mark.postgres_only
async def test_two_instances_share_the_work_without_doing_a_ticket_twice(services: Services) -> None:
    await _seed(services, closed_old=450)
    settings = PrivacySettings(ticket_days=365)
    runs = await asyncio.gather(*(run_retention(services.db, services.clock.now(), settings) for _ in range(2)))
    assert sum(r.tickets for r in runs) == 450
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(TicketPurge)) == 450
