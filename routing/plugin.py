"""Server wiring: the live rules (kept up with saves by any server process) and the assigner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from core.clock import Clock
from core.db import Database
from core.events import DomainEvent, EventBus, TicketCreated, TicketUpdated
from core.health import HealthRegistry
from core.supervisor import Backoff, SupervisedTask, running
from routing.assignment import Assignment, OfferEnded, Presence
from routing.desk import TicketDesk
from routing.keys import ASSIGNMENT, PRESENCE_BOOK
from routing.policy import RulesPolicy
from routing.presence_book import PbxStates, PresenceBook

REFRESH_S = 2.0  # how soon a save in another server process is routed with everywhere


def plugin(policy: RulesPolicy, desk: TicketDesk, db: Database, bus: EventBus, clock: Clock,
           health: HealthRegistry, pbx_states: PbxStates | None = None) -> Callable[[web.Application], AsyncIterator[None]]:
    presence = Presence()
    assignment = Assignment(db, desk, clock, policy.settings, presence)
    book = PresenceBook(db, bus, clock, presence, pbx_states)

    async def read_choices() -> None:  # events from other instances may have been missed
        if await book.read():
            assignment.wake.set()

    async def follow(task: SupervisedTask) -> None:
        while True:
            async with db.session() as session:
                await policy.refresh(session)
            task.healthy(f"rules version {policy.engine.version}")
            await asyncio.sleep(REFRESH_S)

    async def wake(_event: DomainEvent) -> None:
        assignment.wake.set()

    async def offer_ended(event: OfferEnded) -> None:  # declined or missed, committed: that agent has room
        assignment.freed(event.user_ids)

    async def ticket_updated(event: TicketUpdated) -> None:
        # Solved or changed: its agent may have room. Reassigned: the agent it left too, whom the event does not name.
        assignment.freed(None if "assignee_id" in event.fields or event.assignee_id is None else [event.assignee_id])

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[ASSIGNMENT] = assignment
        app[PRESENCE_BOOK] = book
        # Every instance's assigner hears of every instance's changes (the PBX link is owned by one).
        bus.subscribe(DomainEvent, presence.on_event, everywhere=True)
        bus.subscribe(TicketCreated, wake, everywhere=True)  # new work
        bus.subscribe(TicketUpdated, ticket_updated, everywhere=True)  # capacity freed (solved, reassigned) or work taken by hand
        bus.subscribe(OfferEnded, offer_ended, everywhere=True)
        bus.on_resync(read_choices)
        async with db.session() as session:
            await policy.refresh(session)
        await book.read()  # the choices agents made before this process started
        tasks = [SupervisedTask("routing-rules", follow, health, Backoff(1.0, 30.0), required=False),
                 SupervisedTask("routing-assigner", assignment.run, health, Backoff(1.0, 30.0), required=False)]
        async with running(tasks):
            yield

    return lifecycle
