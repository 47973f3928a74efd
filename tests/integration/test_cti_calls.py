"""Calls from the simulated PBX to pops, ticket timelines, call records; resync after drops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cti_fixtures import until
from sqlalchemy import select

from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.events import DomainEvent
from core.records import EntryKind, Ticket, TimelineEntry
from core.users import add_user
from cti.events import CallPanel, ScreenPopShown, ScreenPopWithdrawn
from cti.records import CallRecord
from cti.service import CtiService
from cti.settings import PbxSettings
from cti.simulator import AmiSimulator, QueueCall


class Cti:
    def __init__(self, services: Services, sim: AmiSimulator, service: CtiService, users: dict[str, int]) -> None:
        self.services, self.sim, self.service, self.users = services, sim, service, users
        self.events: list[DomainEvent] = []

    def of(self, kind: type, user: str | None = None) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and (user is None or self.users[user] in e.user_ids)]


@pytest.fixture
async def cti(services: Services) -> AsyncIterator[Cti]:
    async with services.db.transaction() as session:
        users = {}
        for n, login in enumerate(["alice", "bob", "carol"], start=1):
            user = await add_user(session, login, "pw-123456789", login.title(), ["agent"], extension=f"100{n}")
            users[login] = user.id
        await create_customer(session, Actor.system(), CustomerDraft(name="Zhang Wei", phones=["+8613800138000"], tier="vip"))
    sim = AmiSimulator("cti", "s3cret")
    await sim.start()
    settings = PbxSettings(name="sim", host="127.0.0.1", port=sim.port, username="cti", secret="s3cret",  # type: ignore[arg-type]
                           ping_interval=0.5, ping_timeout=1.0, action_timeout=2.0)
    service = CtiService([settings], services.db, services.bus, services.desk, services.health, services.clock)
    harness = Cti(services, sim, service, users)

    async def record(event: DomainEvent) -> None:
        harness.events.append(event)

    services.bus.subscribe(DomainEvent, record)
    await service.start()
    await until(lambda: service.lines["sim"].link.up and service.lines["sim"].link.resyncs >= 1)
    yield harness
    await service.stop()
    await sim.close()


async def test_the_ringing_agents_get_the_pop_and_the_others_do_not(cti: Cti) -> None:
    call = QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001", "PJSIP/1002"], answered_by="PJSIP/1002", ring_s=0.3, talk_s=0.3)
    await cti.sim.play(call.steps())
    await until(lambda: any(p.state == "ended" for p in cti.of(CallPanel)))
    await cti.service.idle()
    for agent in ("alice", "bob"):
        pops = cti.of(ScreenPopShown, agent)
        assert len(pops) == 1 and pops[0].user_ids == (cti.users[agent],)
        assert pops[0].pop["customer"]["name"] == "Zhang Wei" and pops[0].pop["customer"]["tier"] == "vip"
        assert pops[0].pop["number_display"] == "+86 138 0013 8000"
    assert cti.of(ScreenPopShown, "carol") == []
    assert [w.reason for w in cti.of(ScreenPopWithdrawn, "alice")] == ["answered-elsewhere"]
    assert [p.state for p in cti.of(CallPanel, "bob")] == ["live", "ended"]
    async with cti.services.db.session() as session:
        record = (await session.execute(select(CallRecord))).scalars().one()
        assert (record.outcome, record.queue, record.agent_id, record.direction) == ("answered", "support", cti.users["bob"], "inbound")
        ticket = await session.get(Ticket, record.ticket_id)
        assert ticket is not None and ticket.customer_id is not None and ticket.channel == "voice"
        entry = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.CALL.value))).scalars().one()
        assert entry.payload["outcome"] == "answered" and entry.payload["talk_s"] >= 0 and entry.payload["number"] == "+8613800138000"


async def test_a_queue_timeout_is_not_counted_as_a_caller_abandon_and_both_make_callbacks(cti: Cti) -> None:
    timeout = QueueCall("+447700900123", ring=["PJSIP/1001"], answered_by=None, abandon_s=0.2, timeout=True)
    abandon = QueueCall("+14155550123", ring=["PJSIP/1003"], answered_by=None, abandon_s=0.3)
    await asyncio.gather(cti.sim.play(timeout.steps()), cti.sim.play(abandon.steps()))
    await until(lambda: len(cti.of(ScreenPopWithdrawn)) == 2)

    async def outcomes() -> dict[str, str | None]:
        await cti.service.idle()
        async with cti.services.db.session() as session:
            return {r.number: r.outcome for r in (await session.execute(select(CallRecord))).scalars()}

    deadline = time.monotonic() + 10
    while len(result := await outcomes()) < 2 or None in result.values():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert result == {"+447700900123": "timeout", "+14155550123": "abandoned"}
    async with cti.services.db.session() as session:
        callbacks = (await session.execute(select(Ticket).where(Ticket.subject.like("Callback:%")))).scalars().all()
    assert len(callbacks) == 2 and all(t.channel == "voice" for t in callbacks)


async def test_after_a_pbx_crash_the_tracker_holds_exactly_the_pbx_calls(cti: Cti) -> None:
    ghost = QueueCall("+8613800138000", ring=["PJSIP/1001"], answered_by=None, abandon_s=60)
    steps = ghost.steps()
    await cti.sim.play([s for s in steps if s.at < 1])
    await until(lambda: len(cti.of(ScreenPopShown, "alice")) == 1)
    # The PBX crashes (no Hangup, no Shutdown): every call is gone; while the link is down a
    # new call starts ringing bob. Only the resync can tell the tracker.
    cti.sim.crash()
    fresh = QueueCall("+14155550123", ring=["PJSIP/1002"], answered_by=None, abandon_s=60)
    await cti.sim.play([s for s in fresh.steps() if s.at < 1])
    link = cti.service.lines["sim"].link
    await until(lambda: link.connects >= 2 and link.resyncs >= 2)
    tracker = cti.service.lines["sim"].tracker
    await until(lambda: set(tracker.calls) == {ch["Linkedid"] for ch in cti.sim.pbx.channels.values()})
    await until(lambda: len(cti.of(ScreenPopShown, "bob")) == 1)
    assert [w.reason for w in cti.of(ScreenPopWithdrawn, "alice")] == ["hung-up"]
    assert cti.of(ScreenPopShown, "bob")[0].pop["number"] == "+14155550123"
