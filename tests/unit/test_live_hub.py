"""LiveHub delivery: a slow client is dropped without stalling the others."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any, ClassVar, cast

from aiohttp import web

from agent_ui.live.console_watch import ConsoleWatch
from agent_ui.live.hub import LiveHub, encode, read_watch
from core.auth import Actor
from core.events import DomainEvent, TicketCreated, TicketUpdated, TimelineAppended
from core.records import Role


@dataclasses.dataclass(frozen=True)
class Tick(DomainEvent):
    name: ClassVar[str] = "test.tick"
    n: int


@dataclasses.dataclass(frozen=True)
class Nobody(DomainEvent):
    name: ClassVar[str] = "test.nobody"
    user_ids: tuple[int, ...]


class StuckSocket:
    """A socket whose peer never reads: every send waits forever."""

    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def send_str(self, _text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        self.closed_with = code
        return True


class ReadingSocket:
    def __init__(self) -> None:
        self.received: list[str] = []

    async def send_str(self, text: str) -> None:
        self.received.append(text)

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        return True


def actor(user_id: int) -> Actor:
    return Actor(user_id, f"user{user_id}", frozenset({Role.AGENT}))


def ws(sock: Any) -> web.WebSocketResponse:
    return cast(web.WebSocketResponse, sock)


async def test_a_stuck_client_is_dropped_and_the_others_get_everything() -> None:
    hub = LiveHub(queue_size=4)
    stuck, fast = StuckSocket(), ReadingSocket()
    hub.attach(ws(stuck), actor(1))
    hub.attach(ws(fast), actor(2))
    for n in range(20):
        await hub.on_event(Tick(n))
        await asyncio.sleep(0)  # the fast writer runs between events, as it would in the server
    await asyncio.sleep(0)
    assert hub.dropped == 1
    assert hub.connections == 1
    assert stuck.closed_with == 1013
    assert fast.received == [encode(Tick(n)) for n in range(20)]
    await hub.close_all()


async def test_publishing_never_waits_for_a_socket() -> None:
    hub = LiveHub(queue_size=1000)
    for user_id in range(50):
        hub.attach(ws(StuckSocket()), actor(user_id))
    async with asyncio.timeout(1):
        for n in range(500):
            await hub.on_event(Tick(n))
    assert hub.dropped == 0
    await hub.close_all()


async def test_a_private_event_is_queued_only_for_its_users() -> None:
    hub = LiveHub()
    mine, other = ReadingSocket(), ReadingSocket()
    hub.attach(ws(mine), actor(1))
    hub.attach(ws(other), actor(2))
    assert hub.deliver('{"event": "x", "data": {}}', (1,)) == 1
    await asyncio.sleep(0)
    assert (len(mine.received), len(other.received)) == (1, 0)
    await hub.close_all()


async def test_a_broadcast_to_many_is_handed_out_a_slice_per_loop_turn_and_reaches_everyone_in_order() -> None:
    hub = LiveHub(fanout_slice=8)
    sockets = [ReadingSocket() for _ in range(100)]
    for user_id, sock in enumerate(sockets):
        hub.attach(ws(sock), actor(user_id))
    first, second = '{"event": "a", "data": {}}', '{"event": "b", "data": {}}'
    assert hub.deliver(first) == 100
    hub.deliver(second)
    pop = '{"event": "cti.pop", "data": {}}'
    hub.deliver(pop, (99,))
    for _ in range(3):
        await asyncio.sleep(0)
    assert sockets[99].received[0] == pop  # the private message did not wait for the broadcast
    assert sum(1 for sock in sockets if sock.received and sock.received[0] == first) <= 16  # the loop got turns
    for _ in range(100):  # 25 slices of 4 connections x 2 messages, and their writers
        await asyncio.sleep(0)
    assert all(sock.received == [first, second] for sock in sockets[:99])
    assert sockets[99].received == [pop, first, second]
    await hub.close_all()


def watching(hub: LiveHub, sock: ReadingSocket, user_id: int, declared: dict[str, Any]) -> None:
    conn = hub.attach(ws(sock), actor(user_id))
    hub.watch(conn, ConsoleWatch.read(declared, actor(user_id)))


async def test_ticket_frames_reach_only_the_pages_that_show_that_ticket_or_a_list_it_is_on() -> None:
    hub = LiveHub(list_tick=0.05)
    on_ticket_7, on_ticket_8, support_list, billing_list, mine, elsewhere, api = (ReadingSocket() for _ in range(7))
    watching(hub, on_ticket_7, 1, {"ticket": 7})
    watching(hub, on_ticket_8, 2, {"ticket": 8})
    watching(hub, support_list, 3, {"queue": "queue=support&status=open"})
    watching(hub, billing_list, 4, {"queue": "queue=billing"})
    watching(hub, mine, 5, {"queue": "mine=1"})
    watching(hub, elsewhere, 6, {})
    hub.attach(ws(api), actor(7))  # never says what it shows: everything, as before
    await hub.on_event(TimelineAppended(7, 70, "call"))
    await hub.on_event(TicketCreated(7, "support", "voice"))
    await asyncio.sleep(0.1)
    assert [json.loads(t)["event"] for t in on_ticket_7.received] == ["ticket.timeline", "ticket.created"]
    assert on_ticket_8.received == billing_list.received == mine.received == elsewhere.received == []
    assert [json.loads(t)["event"] for t in support_list.received] == ["ticket.created"]
    assert len(api.received) == 2
    await hub.on_event(TicketUpdated(7, "support", ("assignee_id",), 5))
    await asyncio.sleep(0.1)
    assert [json.loads(t)["data"]["fields"] for t in mine.received] == [["assignee_id"]]  # it joined agent 5's list
    await hub.close_all()


async def test_a_list_hears_of_many_changes_in_one_tick_once() -> None:
    hub = LiveHub(list_tick=0.2)
    page = ReadingSocket()
    watching(hub, page, 1, {"queue": "status=open"})
    await hub.on_event(TicketCreated(1, "support", "voice"))
    await asyncio.sleep(0.05)
    assert len(page.received) == 1  # the first change of a quiet list goes out at once
    for n in range(2, 12):
        await hub.on_event(TicketCreated(n, "support", "voice"))
    await asyncio.sleep(0.05)
    assert len(page.received) == 1
    await asyncio.sleep(0.3)
    assert [json.loads(t)["data"]["ticket_id"] for t in page.received] == [1, 11]  # the last one stands for all ten
    await hub.close_all()


async def test_an_event_addressed_to_nobody_reaches_no_one() -> None:
    hub = LiveHub()
    sock = ReadingSocket()
    hub.attach(ws(sock), actor(1))
    await hub.on_event(Nobody(()))
    await hub.on_event(Nobody((1,)))
    await asyncio.sleep(0)
    assert [json.loads(t)["data"]["user_ids"] for t in sock.received] == [[1]]
    await hub.close_all()


def test_a_malformed_watch_is_ignored_and_a_good_one_is_read() -> None:
    for text in ("not json", '{"watch": 3}', '{"watch": {"ticket": "7"}}', '{"watch": {"queue": "status=nonsense"}}', "[1]", "x" * 5000):
        assert read_watch(text, actor(1)) is None, text
    watch = read_watch('{"watch": {"queue": "queue=support&mine=1"}}', actor(1))
    assert watch is not None and watch.listing is not None
    assert (watch.listing.queue, watch.listing.assignee, watch.ticket_id) == ("support", 1, None)
