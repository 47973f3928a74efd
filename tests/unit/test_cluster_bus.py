"""The cluster bus over an in-memory wire: who hears what, once, in order; a lost listener resyncs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from cti_fixtures import until

from core.cluster_bus import ClusterBus
from core.events import DomainEvent, TicketUpdated, TimelineAppended
from core.health import HealthRegistry


class Wire:
    """What PostgreSQL or Redis does for the bus: every frame to every listener, in order."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[str], None]] = []


class WireTransport:
    backend = "memory"

    def __init__(self, wire: Wire, limit: int = 600) -> None:
        self.wire = wire
        self.limit = limit
        self.cut = asyncio.Event()
        self.sent = 0

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        self.cut.clear()
        self.wire.listeners.append(deliver)
        try:
            ready()
            await self.cut.wait()
            raise ConnectionError("cut")
        finally:
            self.wire.listeners.remove(deliver)

    async def send(self, payloads: Sequence[str]) -> None:
        for text in payloads:
            self.sent += 1
            for deliver in list(self.wire.listeners):
                deliver(text)

    async def close(self) -> None:
        pass


async def _pair() -> tuple[ClusterBus, ClusterBus, WireTransport]:
    wire = Wire()
    b_transport = WireTransport(wire)
    a = ClusterBus("a", WireTransport(wire), HealthRegistry(), max_backoff_s=0.05)
    b = ClusterBus("b", b_transport, HealthRegistry(), max_backoff_s=0.05)
    for bus in (a, b):
        bus.start()
    await until(lambda: len(wire.listeners) == 2)
    return a, b, b_transport


async def test_everywhere_subscribers_hear_every_instance_once_and_local_ones_only_their_own() -> None:
    a, b, _ = await _pair()
    heard: dict[str, list[int]] = {"a-everywhere": [], "a-local": [], "b-everywhere": [], "b-local": []}

    def keep(key: str) -> Callable[[TicketUpdated], Awaitable[None]]:
        async def handler(event: TicketUpdated) -> None:
            heard[key].append(event.ticket_id)
        return handler

    for bus, name in ((a, "a"), (b, "b")):
        bus.subscribe(TicketUpdated, keep(f"{name}-everywhere"), everywhere=True)
        bus.subscribe(TicketUpdated, keep(f"{name}-local"))
    await a.publish(TicketUpdated(1, "email"))
    await b.publish(TicketUpdated(2, "email"))
    await until(lambda: len(heard["a-everywhere"]) == 2 and len(heard["b-everywhere"]) == 2)
    await asyncio.sleep(0.05)  # an echo of one's own event would land by now
    assert heard == {"a-everywhere": [1, 2], "a-local": [1], "b-everywhere": [2, 1], "b-local": [2]}
    assert a.describe()["peers"] == ["b"] and b.received == 1
    await a.stop()
    await b.stop()


async def test_a_burst_on_one_ticket_arrives_in_order_with_large_events_cut_and_joined() -> None:
    a, b, _ = await _pair()
    got: list[DomainEvent] = []

    async def keep(event: DomainEvent) -> None:
        got.append(event)

    b.subscribe(DomainEvent, keep, everywhere=True)
    sent: list[DomainEvent] = []
    for n in range(300):
        event: DomainEvent = (TimelineAppended(7, n, "note") if n % 50 else
                              TicketUpdated(7, "email", tuple(f"field_{i}_长字段" for i in range(60))))
        sent.append(event)
        await a.publish(event)
    await until(lambda: len(got) == 300)
    assert got == sent and b.resyncs == 0
    await a.stop()
    await b.stop()


async def test_a_listener_that_lost_its_connection_reconnects_and_resyncs() -> None:
    a, b, b_transport = await _pair()
    resynced = asyncio.Event()

    async def refresh() -> None:
        resynced.set()

    b.on_resync(refresh)
    got: list[int] = []

    async def keep(event: TicketUpdated) -> None:
        got.append(event.ticket_id)

    b.subscribe(TicketUpdated, keep, everywhere=True)
    b_transport.cut.set()
    async with asyncio.timeout(5):
        await resynced.wait()
    assert b.reconnects == 1 and b.state == "connected"
    await a.publish(TicketUpdated(9, "email"))
    await until(lambda: got == [9])
    await a.stop()
    await b.stop()


async def test_a_gap_in_an_instances_sequence_resyncs_the_receiver() -> None:
    a, b, _ = await _pair()
    resyncs: list[int] = []

    async def refresh() -> None:
        resyncs.append(1)

    b.on_resync(refresh)
    await a.publish(TicketUpdated(1, "email"))
    await until(lambda: b.received == 1)
    a._seq += 3  # three events that never went out (the send queue was full)
    await a.publish(TicketUpdated(2, "email"))
    await until(lambda: b.received == 2 and resyncs == [1])
    await a.stop()
    await b.stop()


async def test_events_published_just_before_a_stop_still_go_out() -> None:
    a, b, _ = await _pair()
    got: list[int] = []

    async def keep(event: TicketUpdated) -> None:
        got.append(event.ticket_id)

    b.subscribe(TicketUpdated, keep, everywhere=True)
    for n in range(50):
        await a.publish(TicketUpdated(n, "email"))
    await a.stop()  # SIGTERM right after a burst
    await until(lambda: len(got) == 50)
    await b.stop()
