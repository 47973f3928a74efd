"""Live updates to browsers: domain events pushed over an authenticated WebSocket.

``LiveHub`` subscribes to every ``DomainEvent`` on the bus. An event with a
``user_ids`` field goes only to those users' connections (a screen-pop to the
ringing agent; connections are indexed by user, so an event for nobody costs nothing);
a ticket frame (``ticket.created/updated/timeline``) goes only to the pages it can change
(``agent_ui.live.console_watch``: the ticket's own page at once, queue lists whose filter it
matches at most once per ``list_tick``, the last frame standing for "your list changed");
every other event goes to all connected staff. Each connection has a bounded queue and
its own writer task, so publishing never awaits a socket: a client whose queue is full
is closed and counted, and the others never wait for it. With ``fanout_slice`` (the
console's hub), a frame for many connections is handed to about that many per loop turn:
each hand-over wakes a writer, and 500 socket writes in one turn (20-35 ms) would hold up
everything else, a screen-pop included. In that fan-out the frame is built once
(``agent_ui.live.broadcast.text_frame``, uncompressed) and written straight to the transport of
each connection with nothing queued — no writer wake-up, no compression per connection —
and a connection with more than ``MAX_BUFFERED`` bytes unsent is dropped as too slow.
Events for named users are queued at once, so they may overtake a broadcast still being
handed out. Who is on a ticket's page (and typing there) is sent to that ticket's pages as
``ticket.presence`` whenever it changes (``agent_ui.live.ticket_presence``).
Wire shape: ``{"event": name, "data": {...}}``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from agent_ui.base.web_metrics import LIVE_CONNECTIONS, LIVE_MESSAGES
from agent_ui.live.broadcast import text_frame
from agent_ui.live.console_watch import ConsoleWatch, ListKey
from agent_ui.live.slow_clients import SlowClientCloser
from agent_ui.live.ticket_presence import REPLYING, TicketViewers, people_on, presence_frame
from core.auth import Actor
from core.bus_wire import json_default
from core.errors import InvalidInput
from core.events import DomainEvent, TicketCreated, TicketUpdated, TimelineAppended
from core.loop_turn import LoopTurn
from core.users import AccessEnded

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
LIST_TICK_S = 0.5  # a queue list hears of its changes at most this often
MAX_WATCH_MESSAGE = 4096
FANOUT_TURN_S = 0.0005  # and at most this long a turn: a screen-pop's database hand-overs each wait a turn
ACCESS_ENDED = 4401  # close code a page reads as "your login is gone" (live.js stops reconnecting)
RESYNC_FRAME = '{"event": "live.resync", "data": {}}'
MAX_BUFFERED = 256 * 1024  # bytes unsent by a connection written to directly: it stopped reading


def encode(event: DomainEvent) -> str:
    return json.dumps({"event": event.name, "data": dataclasses.asdict(event)}, default=json_default)


def recipients_of(event: DomainEvent) -> tuple[int, ...] | None:
    """The users an event is addressed to, or None for everyone."""
    user_ids = getattr(event, "user_ids", None)
    return None if user_ids is None else tuple(user_ids)


class LiveConnection:
    """One browser tab: its queue of encoded messages, the task that writes them, and what it shows."""

    def __init__(self, ws: web.WebSocketResponse, actor: Actor, queue_size: int,
                 transport: asyncio.Transport | None = None, name: str = "", login_key: str | None = None) -> None:
        self.ws = ws
        self.actor = actor
        self.name = name or actor.login  # as others see them on a ticket they share
        self.replying = False  # typing in the ticket page's composer (what the page last said)
        # The browser login it rides on (that login's CSRF token, unique per login); None for an
        # API token. The access sweep ends the connection when that login is gone.
        self.login_key = login_key
        self.transport = transport  # for frames built once and written directly (the fan-out)
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.writer: asyncio.Task[None] | None = None
        self.watch: ConsoleWatch | None = None  # None: it never said (an API client): every ticket frame

    @property
    def user_id(self) -> int | None:
        return self.actor.user_id

    @property
    def ticket_id(self) -> int | None:
        return self.watch.ticket_id if self.watch is not None else None

    def write(self, text: str, frame: bytes) -> bool:
        """``frame`` straight to the socket when nothing is queued before it, else ``text`` queued."""
        transport = self.transport
        if transport is None or not self.queue.empty():
            return self.offer(text)
        if transport.is_closing() or self.ws.closed:
            return True  # going away: the reader ends it
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            return False
        transport.write(frame)
        return True

    def offer(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def pump(self) -> None:
        try:
            while True:
                text = await self.queue.get()
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):  # the client went away: the reader ends the socket
            log.debug("live client of %s is gone", self.actor.login)


class LiveHub:
    def __init__(self, queue_size: int = QUEUE_SIZE, fanout_slice: int | None = None, list_tick: float = LIST_TICK_S,
                 publish: Callable[[DomainEvent], Coroutine[Any, Any, None]] | None = None, instance: str = "") -> None:
        self.queue_size = queue_size
        # Several instances: who is on a ticket here is published for the others (``TicketViewers``),
        # and theirs kept here, per ticket and instance, to be merged into this hub's presence frames.
        self._publish = publish
        self.instance = instance
        self._remote_people: dict[int, dict[str, tuple[dict[str, Any], ...]]] = {}
        self._publishing: set[asyncio.Task[None]] = set()
        self.fanout_slice = fanout_slice
        self.list_tick = list_tick
        self._connections: set[LiveConnection] = set()
        self._by_user: dict[int, set[LiveConnection]] = {}
        self._by_ticket: dict[int, set[LiveConnection]] = {}
        self._by_list: dict[ListKey, set[LiveConnection]] = {}
        self._undeclared: set[LiveConnection] = set()
        self._closer = SlowClientCloser()
        self._bulk: collections.deque[tuple[str, list[LiveConnection] | None]] = collections.deque()
        self._fanout: asyncio.Task[None] | None = None
        self._lists_changed: dict[ListKey, str] = {}
        self._list_timer: asyncio.TimerHandle | None = None
        self._lists_sent_at = -LIST_TICK_S
        # A per-person form of an addressed event (the privacy policy masks a pop's numbers for
        # some roles); None: everyone gets the event as published.
        self.rewrite: Callable[[DomainEvent, Actor], DomainEvent] | None = None

    @property
    def dropped(self) -> int:
        return self._closer.dropped

    @property
    def connections(self) -> int:
        return len(self._connections)

    def attach(self, ws: web.WebSocketResponse, actor: Actor, transport: asyncio.Transport | None = None,
               name: str = "", login_key: str | None = None) -> LiveConnection:
        conn = LiveConnection(ws, actor, self.queue_size, transport, name, login_key)
        conn.writer = asyncio.create_task(conn.pump(), name=f"live-writer-{actor.login}")
        self._connections.add(conn)
        if actor.user_id is not None:
            self._by_user.setdefault(actor.user_id, set()).add(conn)
        self._undeclared.add(conn)
        LIVE_CONNECTIONS.inc()
        return conn

    def detach(self, conn: LiveConnection) -> None:
        if conn in self._connections:
            ticket = conn.ticket_id
            self._connections.remove(conn)
            _discard(self._by_user, conn.actor.user_id, conn)
            self._unwatch(conn)
            LIVE_CONNECTIONS.dec()
            self._presence_changed(ticket, left=True)
        if conn.writer is not None:
            conn.writer.cancel()

    def watch(self, conn: LiveConnection, watch: ConsoleWatch) -> None:
        """What ``conn``'s page shows from now on (it says so again after each reconnect)."""
        if conn not in self._connections:
            return
        before = conn.ticket_id
        self._unwatch(conn)
        conn.watch = watch
        if watch.ticket_id is not None:
            self._by_ticket.setdefault(watch.ticket_id, set()).add(conn)
        if watch.listing is not None:
            self._by_list.setdefault(watch.listing, set()).add(conn)
        if before != watch.ticket_id:
            conn.replying = False
            self._presence_changed(before, left=True)
        self._presence_changed(watch.ticket_id)

    def set_presence(self, conn: LiveConnection, state: str) -> None:
        """The page's person started or stopped typing a reply: the ticket's other pages hear of it."""
        replying = state == REPLYING
        if conn not in self._connections or conn.ticket_id is None or conn.replying == replying:
            return
        conn.replying = replying
        self._presence_changed(conn.ticket_id)

    def _presence_changed(self, ticket_id: int | None, left: bool = False) -> None:
        """To the ticket's pages; not while one person alone has it open (nobody to tell), unless
        someone just left (the pages that stay must drop them)."""
        if ticket_id is None:
            return
        pages = list(self._by_ticket.get(ticket_id, ()))
        if self._publish is not None:
            self._share_presence(ticket_id, pages)
        remote = self._remote_people.get(ticket_id, {})
        others = {int(p["user_id"]) for listing in remote.values() for p in listing}
        if not pages or (not left and len({c.user_id for c in pages} | others) < 2):
            return
        self._offer_all(presence_frame(ticket_id, pages, remote.values()), pages)

    def _share_presence(self, ticket_id: int, pages: list[LiveConnection]) -> None:
        assert self._publish is not None
        event = TicketViewers(ticket_id, self.instance, tuple(people_on(pages)))
        task = asyncio.get_running_loop().create_task(self._publish(event), name="live-presence-share")
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    def _remote_presence(self, event: TicketViewers) -> None:
        """Another instance's people on a ticket: this instance's pages of it hear the merged list."""
        if event.instance == self.instance:
            return
        remote = self._remote_people.setdefault(event.ticket_id, {})
        if event.people:
            remote[event.instance] = event.people
        else:
            remote.pop(event.instance, None)
            if not remote:
                del self._remote_people[event.ticket_id]
        pages = list(self._by_ticket.get(event.ticket_id, ()))
        if pages:
            self._offer_all(presence_frame(event.ticket_id, pages, self._remote_people.get(event.ticket_id, {}).values()),
                            pages)

    def _unwatch(self, conn: LiveConnection) -> None:
        self._undeclared.discard(conn)
        if conn.watch is None:
            return
        if conn.watch.ticket_id is not None:
            _discard(self._by_ticket, conn.watch.ticket_id, conn)
        if conn.watch.listing is not None:
            _discard(self._by_list, conn.watch.listing, conn)

    def _targets(self, user_ids: tuple[int, ...] | None) -> list[LiveConnection]:
        if user_ids is None:
            return list(self._connections)
        if len(user_ids) == 1:
            return list(self._by_user.get(user_ids[0], ()))
        return [c for u in set(user_ids) for c in self._by_user.get(u, ())]

    async def on_event(self, event: DomainEvent) -> None:
        """Bus handler: queue the event for its recipients without awaiting any socket."""
        if isinstance(event, AccessEnded):
            self.end_user(event.user_id)
            return
        if isinstance(event, TicketViewers):
            self._remote_presence(event)
            return
        if isinstance(event, TicketCreated | TicketUpdated | TimelineAppended):
            self._ticket_frame(event)
            return
        recipients = recipients_of(event)
        if recipients is not None and not recipients:
            return  # addressed to nobody (most CTI events): not even encoded
        if recipients is not None and self.rewrite is not None:
            self._deliver_rewritten(event, self.rewrite, recipients)
            return
        self.deliver(encode(event), recipients)

    def _deliver_rewritten(self, event: DomainEvent, rewrite: Callable[[DomainEvent, Actor], DomainEvent],
                           recipients: tuple[int, ...]) -> None:
        """An addressed event as each recipient may see it (contact details masked for some):
        encoded once per distinct form."""
        texts: dict[int, str] = {}
        groups: dict[int, list[LiveConnection]] = {}
        for conn in self._targets(recipients):
            shown = rewrite(event, conn.actor)
            key = 0 if shown is event else 1
            if key not in texts:
                texts[key] = encode(shown)
            groups.setdefault(key, []).append(conn)
        for key, targets in groups.items():
            self._offer_all(texts[key], targets)

    def _ticket_frame(self, event: TicketCreated | TicketUpdated | TimelineAppended) -> None:
        """The ticket's own pages and clients that never said what they show at once; matching lists on the next tick."""
        text = encode(event)
        now = [*self._undeclared, *self._by_ticket.get(event.ticket_id, ())]
        if now:
            self._send(text, now)
        if isinstance(event, TimelineAppended):
            return
        for key, watchers in self._by_list.items():
            if watchers and key.matches(event):
                self._lists_changed[key] = text
        if self._lists_changed and self._list_timer is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._lists_sent_at + self.list_tick - loop.time())
            self._list_timer = loop.call_later(delay, self._send_lists)

    def _send_lists(self) -> None:
        self._list_timer = None
        self._lists_sent_at = asyncio.get_running_loop().time()
        changed, self._lists_changed = self._lists_changed, {}
        for key, text in changed.items():
            watchers = list(self._by_list.get(key, ()))
            if watchers:
                self._send(text, watchers)

    def deliver(self, text: str, user_ids: tuple[int, ...] | None = None) -> int:
        if user_ids is None:
            return self._send(text, None)
        return self._offer_all(text, self._targets(user_ids))

    def _send(self, text: str, targets: list[LiveConnection] | None) -> int:
        """To ``targets`` (None: everyone): at once when few, else a slice per loop turn."""
        count = len(self._connections) if targets is None else len(targets)
        if self.fanout_slice is not None and count > self.fanout_slice:
            self._bulk.append((text, targets))
            if self._fanout is None or self._fanout.done():
                self._fanout = asyncio.create_task(self._fan_out(self.fanout_slice), name="live-fan-out")
            return count
        return self._offer_all(text, list(self._connections) if targets is None else targets)

    def _offer_all(self, text: str, targets: list[LiveConnection]) -> int:
        sent = 0
        for conn in targets:
            if conn.offer(text):
                sent += 1
            else:
                self._drop(conn)
        LIVE_MESSAGES.inc(sent)
        return sent

    async def _fan_out(self, per_turn: int) -> None:
        """Hand the queued frames to their connections, in order, about ``per_turn`` messages (and ``FANOUT_TURN_S``) a loop turn."""
        while self._bulk:
            batch = list(self._bulk)
            self._bulk.clear()
            texts_of: dict[LiveConnection, list[str]] = {}
            frames = {text: text_frame(text) for text, _targets in batch}  # built once for all
            for text, targets in batch:
                for conn in self._connections if targets is None else targets:
                    texts_of.setdefault(conn, []).append(text)
            handed = sent = 0
            turn = LoopTurn(FANOUT_TURN_S)
            for conn, texts in texts_of.items():
                if conn not in self._connections:
                    continue
                for text in texts:
                    if not conn.write(text, frames[text]):
                        self._drop(conn)
                        break
                    sent += 1
                handed += len(texts)
                if await turn.pause_if_due(force=handed >= per_turn):
                    LIVE_MESSAGES.inc(sent)
                    handed = sent = 0
            LIVE_MESSAGES.inc(sent)

    def user_ids(self) -> set[int]:
        """The people with a connection open now."""
        return set(self._by_user)

    def login_keys(self) -> set[str]:
        """The browser logins that have a connection open now."""
        return {c.login_key for c in self._connections if c.login_key is not None}

    def end_user(self, user_id: int) -> int:
        """Close every connection of a person whose logins ended (disabled, password reset):
        in the background, like a slow client, so the caller never waits on their sockets."""
        conns = list(self._by_user.get(user_id, ()))
        self._end(conns)
        if conns:
            log.info("closed %d live connection(s) of user %d: their access ended", len(conns), user_id)
        return len(conns)

    def end_logins(self, login_keys: set[str]) -> int:
        """Close the connections riding on browser logins that no longer exist (logged out,
        expired, ended by a password change made elsewhere)."""
        conns = [c for c in self._connections if c.login_key in login_keys]
        self._end(conns)
        return len(conns)

    def _end(self, conns: list[LiveConnection]) -> None:
        for conn in conns:
            self.detach(conn)
            self._closer.drop(conn.ws, None, ACCESS_ENDED)

    def _drop(self, conn: LiveConnection) -> None:
        log.warning("live client of %s fell behind (%d queued): closing it", conn.actor.login, conn.queue.qsize())
        self.detach(conn)
        self._closer.drop(conn.ws)

    async def resync(self) -> None:
        """Every page reads what it shows again (``live.resync``: the pages do what they do on a
        reconnect), because events from other instances may have been missed. Who the other
        instances have on tickets is forgotten (an instance that died never says it left);
        the pages' reconnects and watches bring back what still stands."""
        self._remote_people.clear()
        self._send(RESYNC_FRAME, None)

    async def close_all(self) -> None:
        """At shutdown: close every socket at once (each bounded by ``CLOSE_TIMEOUT``)."""
        if self._fanout is not None:
            self._fanout.cancel()
        if self._list_timer is not None:
            self._list_timer.cancel()
            self._list_timer = None
        connections = list(self._connections)
        for conn in connections:
            self.detach(conn)
        await self._closer.close_all((conn.ws, None) for conn in connections)


def _discard(index: dict[Any, set[LiveConnection]], key: Any, conn: LiveConnection) -> None:
    conns = index.get(key)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del index[key]


def read_watch(text: str, actor: Actor) -> ConsoleWatch | None:
    """A page's ``{"watch": {...}}`` message, or None for anything else (ignored, logged)."""
    if len(text) > MAX_WATCH_MESSAGE:
        return None
    try:
        message = json.loads(text)
        if not isinstance(message, dict) or "watch" not in message:
            return None
        return ConsoleWatch.read(message["watch"], actor)
    except (ValueError, InvalidInput) as exc:
        log.debug("live client of %s sent an unreadable watch: %s", actor.login, exc)
        return None


LIVE_HUB: web.AppKey[LiveHub] = web.AppKey("live_hub", LiveHub)
