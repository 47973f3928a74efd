"""Domain events from the bus become webhook deliveries.

The bus awaits its handlers in turn, so ``heard`` only filters and queues; a supervised
task (``run``) takes what was queued in batches, reads what the payloads need (the ticket,
the rating) and writes the outbox rows of a batch in one transaction, then wakes the
delivery worker. An event no subscription wants is dropped in ``heard`` without touching
the database: which event types are wanted is cached for ``cache_s`` seconds and forgotten
at once when a subscription changes in this instance.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.customers import customer_dict
from core.db import Database
from core.events import DomainEvent, EventBus, TicketCreated, TicketUpdated, TimelineAppended
from core.records import Customer, EntryKind, Ticket, TicketStatus
from core.supervisor import SupervisedTask
from cti.events import CallAnswered, CallEnded, CallRinging
from integrations.customer_watch import CustomerCreated, CustomerUpdated
from integrations.deliveries import enabled_subscriptions, queue_event, stable_event_id
from integrations.records import WebhookSubscription
from routing.records import TicketRating
from routing.ticket_listing import ticket_dict

log = logging.getLogger(__name__)

# Bus event → the webhook event types it may become.
TYPES_OF: dict[type[DomainEvent], frozenset[str]] = {
    TicketCreated: frozenset({"ticket.created"}),
    TicketUpdated: frozenset({"ticket.updated", "ticket.solved"}),
    TimelineAppended: frozenset({"rating.created"}),
    CallRinging: frozenset({"call.started"}),
    CallAnswered: frozenset({"call.answered"}),
    CallEnded: frozenset({"call.ended"}),
    CustomerCreated: frozenset({"customer.created"}),
    CustomerUpdated: frozenset({"customer.updated"}),
}
BATCH = 200

WebhookEvent = tuple[str, dict[str, Any], str | None]  # type, data, stable id (None: a new one)


class WebhookFeed:
    def __init__(self, db: Database, clock: Clock, queue_size: int = 10_000, cache_s: float = 10.0) -> None:
        self.db = db
        self.clock = clock
        self.cache_s = cache_s
        self.queue: asyncio.Queue[DomainEvent] = asyncio.Queue(queue_size)
        self.on_queued: list[Callable[[], None]] = []
        self.wanted: frozenset[str] = frozenset()
        self._wanted_at: float | None = None
        self.queued = 0
        self.dropped = 0

    def subscribe(self, bus: EventBus) -> None:
        for event_type in TYPES_OF:
            bus.subscribe(event_type, self.heard)

    def forget_wanted(self) -> None:
        """A subscription changed: read which events are wanted again at the next event."""
        self._wanted_at = None

    async def heard(self, event: DomainEvent) -> None:
        if isinstance(event, TimelineAppended) and event.kind != EntryKind.RATING.value:
            return
        fresh = self._wanted_at is not None and time.monotonic() - self._wanted_at < self.cache_s
        if fresh and not (TYPES_OF[type(event)] & self.wanted):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("webhooks: %d events waiting, %s dropped", self.queue.qsize(), event.name)

    async def run(self, task: SupervisedTask) -> None:
        """Supervised body: translate what the bus queued until cancelled."""
        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self.translate(batch)
            task.healthy(f"queued {self.queued}, dropped {self.dropped}")

    async def drain(self) -> int:
        """Translate everything queued now (tests, shutdown)."""
        batch: list[DomainEvent] = []
        while not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return await self.translate(batch) if batch else 0

    async def translate(self, events: list[DomainEvent]) -> int:
        rows = 0
        started = time.monotonic()
        now = self.clock.now()
        async with self.db.transaction() as session:
            subscriptions = await enabled_subscriptions(session)
            self.wanted = frozenset(e for s in subscriptions for e in (s.events or ()))
            self._wanted_at = started
            for event in events:
                if not (TYPES_OF[type(event)] & self.wanted):
                    continue
                rows += await self._queue(session, subscriptions, event, now)
        self.queued += rows
        if rows:
            for callback in self.on_queued:
                callback()
        return rows

    async def _queue(self, session: AsyncSession, subscriptions: list[WebhookSubscription], event: DomainEvent,
                     now: datetime) -> int:
        rows = 0
        for event_type, data, event_id in await webhook_events(session, event):
            if event_type in self.wanted:
                rows += len(await queue_event(session, subscriptions, event_type, data, now, event_id))
        return rows


async def webhook_events(session: AsyncSession, event: DomainEvent) -> list[WebhookEvent]:
    """What a bus event means to other systems, with the data they need."""
    call: dict[str, Any]
    if isinstance(event, TicketCreated | TicketUpdated):
        ticket = await session.get(Ticket, event.ticket_id)
        if ticket is None:
            return []
        data = {"ticket": ticket_dict(ticket)}
        if isinstance(event, TicketCreated):
            return [("ticket.created", data, stable_event_id("ticket.created", ticket.id))]
        out: list[WebhookEvent] = [("ticket.updated", {**data, "changed": list(event.fields)}, None)]
        if "status" in event.fields and ticket.status == TicketStatus.SOLVED.value:
            solved = ticket.solved_at.isoformat() if ticket.solved_at else ticket.updated_at.isoformat()
            out.append(("ticket.solved", data, stable_event_id("ticket.solved", ticket.id, solved)))
        return out
    if isinstance(event, TimelineAppended):
        rating = (await session.execute(select(TicketRating).where(TicketRating.ticket_id == event.ticket_id))).scalar()
        ticket = await session.get(Ticket, event.ticket_id)
        if rating is None or ticket is None:
            return []
        return [("rating.created", {"rating": {
            "id": rating.id, "ticket_id": rating.ticket_id, "rating": rating.rating, "comment": rating.comment,
            "agent_id": rating.agent_id, "queue": rating.queue, "created_at": rating.created_at.isoformat()},
            "ticket": ticket_dict(ticket)}, stable_event_id("rating.created", rating.id))]
    if isinstance(event, CallRinging):
        call = {"pbx": event.pbx, "linkedid": event.linkedid, "direction": event.direction, "number": event.number,
                "caller_name": event.caller_name, "queue": event.queue}
        return [("call.started", {"call": call}, stable_event_id("call.started", event.pbx, event.linkedid))]
    if isinstance(event, CallAnswered):
        call = {"pbx": event.pbx, "linkedid": event.linkedid, "direction": event.direction, "number": event.number,
                "queue": event.queue, "agent_user_id": event.agent_user_id, "wait_s": event.wait_s}
        return [("call.answered", {"call": call},
                 stable_event_id("call.answered", event.pbx, event.linkedid, event.interface))]
    if isinstance(event, CallEnded):
        call = {"pbx": event.pbx, "linkedid": event.linkedid, "direction": event.direction, "number": event.number,
                "caller_name": event.caller_name, "queue": event.queue, "outcome": event.outcome,
                "agent_user_id": event.agent_user_id, "wait_s": event.wait_s, "talk_s": event.talk_s,
                "started_at": event.started_at, "answered_at": event.answered_at, "ended_at": event.ended_at}
        return [("call.ended", {"call": call}, stable_event_id("call.ended", event.pbx, event.linkedid))]
    if isinstance(event, CustomerCreated | CustomerUpdated):
        customer = await session.get(Customer, event.customer_id)
        if customer is None:
            return []
        customer_data = {"customer": customer_dict(customer)}
        if isinstance(event, CustomerCreated):
            return [("customer.created", customer_data, stable_event_id("customer.created", customer.id))]
        return [("customer.updated", customer_data, None)]
    return []
