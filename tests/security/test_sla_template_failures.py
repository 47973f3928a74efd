"""One bad SLA alert template must not stop escalations (issue 10, finding 2).

The review saved ``ACK {{ ticket.id / 0 }}`` as a level template: the scanner then failed its
whole batch forever and /readyz kept saying "ready". Now the template is refused at save time;
one forced into the store anyway falls back to the built-in text with a note on the ticket's
timeline; a failure stays with its ticket; and a scanner that keeps failing shows on /readyz.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from web_fixtures import StaffClient, WebSite

from alerts.keys import SLA
from alerts.records import Escalation, SlaPolicy
from config.settings import Settings, load_settings
from core.clock import ManualClock, as_utc
from core.records import EntryKind, OutboxMessage, Ticket, User
from routing import Contact

MONDAY_10_SHANGHAI = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
DIVIDES_BY_ZERO = "ACK {{ ticket.id / 0 }}"
LEVEL = {"at": "+0", "channels": ["sms", "email"], "recipients": ["assignee"]}
POLICY = {"position": 20, "match": {"channel": ["email"]}, "calendar": "office", "first_response_minutes": 120}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_10_SHANGHAI)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, timezone="Asia/Shanghai")


async def _assigned_ticket(site: WebSite, subject: str) -> int:
    async with site.services.db.transaction() as session:
        await session.execute(update(User).where(User.login == "agent").values(mobile="+8613800138000",
                                                                               email="agent@example.com"))
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(
            session, Contact("email", None, subject=subject), EntryKind.EMAIL_IN, {"text": "late"})
        accepted.ticket.assignee_id = site.users["agent"].id
        await site.services.desk.commit_and_publish(session)
    return accepted.ticket.id


async def _force_level_templates(site: WebSite, policy: str, template: str, subject: str) -> None:
    """Write templates into a stored policy behind the API's back (an old row, a direct edit)."""
    async with site.services.db.transaction() as session:
        row = (await session.execute(select(SlaPolicy).where(SlaPolicy.name == policy))).scalar_one()
        definition = dict(row.definition)
        definition["levels"] = [{**level, "template": template, "subject": subject} for level in definition["levels"]]
        row.definition = definition
        row.version += 1
    site.server.app[SLA].store.invalidate()  # type: ignore[index]


async def _timeline(client: StaffClient, ticket_id: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await client.api("GET", f"/api/v1/tickets/{ticket_id}/timeline"))["entries"]
    return entries


@pytest.mark.parametrize("part", ["template", "subject"])
async def test_a_level_template_that_divides_by_zero_is_refused_when_saved(site: WebSite, part: str) -> None:
    ops = await site.login("ops")
    refused = await ops.api("PUT", "/api/v1/sla/policies/vip",
                            json={**POLICY, "levels": [{**LEVEL, part: DIVIDES_BY_ZERO}]}, status=400)
    assert "SLA policy 'vip' level 1" in refused["message"] and "ZeroDivisionError" in refused["message"], refused
    names = {p["name"] for p in (await ops.api("GET", "/api/v1/sla/policies"))["policies"]}
    assert "vip" not in names
    good = {**LEVEL, "template": "{{ ticket.tag }} late: {{ link }}", "subject": "[SLA] {{ ticket.tag }}"}
    await ops.api("PUT", "/api/v1/sla/policies/vip", json={**POLICY, "levels": [good]})


async def test_a_bad_template_in_the_store_still_escalates_with_the_built_in_text(
    site: WebSite, clock: ManualClock
) -> None:
    first = await _assigned_ticket(site, "Order late")
    second = await _assigned_ticket(site, "Invoice wrong")
    await _force_level_templates(site, "email", DIVIDES_BY_ZERO, "[SLA] {{ ticket.id / 0 }}")
    clock.advance(timedelta(days=1, hours=3, minutes=30))  # past the email policy's breach
    parts = site.server.app[SLA]  # type: ignore[index]
    while await parts.scanner.scan_once():
        pass

    agent = await site.login("agent")
    async with site.services.db.session() as session:
        for ticket_id in (first, second):
            fired = (await session.execute(select(Escalation).where(Escalation.ticket_id == ticket_id))).scalars()
            assert len(list(fired)) >= 1, f"ticket {ticket_id} was not escalated"
            sent = list((await session.execute(
                select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id))).scalars())
            assert sent and all("Reply ACK" in m.body for m in sent if m.channel == "sms")
            assert all(m.subject.startswith("[SLA]") and "ZeroDivision" not in m.subject for m in sent)
        timeline = await _timeline(agent, first)
    failed = [e for e in timeline if e["payload"].get("event") == "template_failed"]
    assert {e["payload"]["part"] for e in failed} == {"text", "subject"}
    assert all("ZeroDivisionError" in e["payload"]["error"] for e in failed)
    page = await agent.api("GET", f"/tickets/{first}")
    assert "the built-in text was sent instead" in page


async def test_a_failure_stays_with_its_ticket_and_the_rest_of_the_batch_escalates(
    site: WebSite, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = await _assigned_ticket(site, "Order late")
    fine = await _assigned_ticket(site, "Invoice wrong")
    parts = site.server.app[SLA]  # type: ignore[index]
    fire_due = parts.ladder.fire_due

    async def failing_for_one(session: Any, ticket: Ticket, *args: Any) -> int:
        if ticket.id == broken:
            raise RuntimeError("directory unreachable")
        return await fire_due(session, ticket, *args)

    monkeypatch.setattr(parts.ladder, "fire_due", failing_for_one)
    clock.advance(timedelta(days=1, hours=3, minutes=30))
    now = clock.now()
    while await parts.scanner.scan_once():
        pass

    async with site.services.db.session() as session:
        escalated = set((await session.execute(select(Escalation.ticket_id))).scalars())
        waiting = await session.get(Ticket, broken)
        assert waiting is not None and waiting.due_at is not None
        assert as_utc(waiting.due_at) >= now + timedelta(seconds=59)  # tried again later, not in a hot loop
    assert fine in escalated and broken not in escalated
    agent = await site.login("agent")
    assert "SLA escalation failed" in await agent.api("GET", f"/tickets/{broken}")
    assert broken in parts.scanner.recent_failures()

    clock.advance(timedelta(seconds=61))  # tried again, fails again: no second note
    while await parts.scanner.scan_once():
        pass
    notes = [e for e in await _timeline(agent, broken) if e["payload"].get("event") == "escalation_failed"]
    assert len(notes) == 1 and "directory unreachable" in notes[0]["payload"]["error"]

    monkeypatch.setattr(parts.ladder, "fire_due", fire_due)  # the cause is fixed
    clock.advance(timedelta(seconds=61))
    while await parts.scanner.scan_once():
        pass
    async with site.services.db.session() as session:
        assert broken in set((await session.execute(select(Escalation.ticket_id))).scalars())
    assert parts.scanner.recent_failures() == {}


async def test_a_scanner_that_keeps_failing_makes_readyz_degraded(site: WebSite, clock: ManualClock) -> None:
    anon = await site.anonymous()
    assert (await anon.api("GET", "/readyz"))["status"] == "ready"
    await _assigned_ticket(site, "Order late")
    clock.advance(timedelta(days=1, hours=3, minutes=30))
    async with site.services.db.transaction() as session:  # a stored policy no server can compile
        await session.execute(update(SlaPolicy).where(SlaPolicy.name == "email")
                              .values(definition={"name": "email", "levels": [{"at": "soon"}]},
                                      version=SlaPolicy.version + 1))
    parts = site.server.app[SLA]  # type: ignore[index]
    parts.store.invalidate()
    parts.scanner.wake()
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        ready = await anon.api("GET", "/readyz", status=None)
        if ready["status"] == "degraded":
            break
        assert asyncio.get_running_loop().time() < deadline, f"/readyz never said degraded: {ready}"
        await asyncio.sleep(0.2)
    scanner = ready["components"]["sla-scanner"]
    assert scanner["ok"] is False and scanner["degraded"] is True


async def test_a_level_template_that_bombs_on_a_customers_subject_passes_the_save_check_but_not_the_budget(
    site: WebSite, clock: ManualClock
) -> None:
    ops = await site.login("ops")
    bomb = ("{% if 'boom' in ticket.subject %}{% for i in range(5000) %}{% for j in range(5000) %}"
            "{% endfor %}{% endfor %}{% endif %}{{ ticket.tag }} late")
    await ops.api("PUT", "/api/v1/sla/policies/vip", json={**POLICY, "levels": [{**LEVEL, "template": bomb}]})
    calm = await _assigned_ticket(site, "Order late")
    bombed = await _assigned_ticket(site, "boom")
    clock.advance(timedelta(days=1))
    parts = site.server.app[SLA]  # type: ignore[index]
    while await parts.scanner.scan_once():
        pass
    async with site.services.db.session() as session:
        sms = {m.ticket_id: m.body for m in (await session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == "sms"))).scalars()}
    assert sms[calm].endswith("late") and "Reply ACK" not in sms[calm]  # ops' text where it renders
    assert "Reply ACK" in sms[bombed]  # the built-in text where it does not
    agent = await site.login("agent")
    [failed] = [e for e in await _timeline(agent, bombed) if e["payload"].get("event") == "template_failed"]
    assert "SLA policy 'vip' level 1 text" in failed["payload"]["error"] and "limit" in failed["payload"]["error"]
