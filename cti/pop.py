"""The screen-pop: who is calling, shown to the ringing agent(s) only, before they answer.

``CallRinging`` → look the number up (E.164) → ``ScreenPopShown`` to the ringing user;
withdrawn (``ScreenPopWithdrawn``) when another agent answers, the ring times out or the
caller hangs up; on answer the agent's pop becomes the live ``CallPanel``. The pop is
built once per call and cached, so a ringall queue costs one lookup, not one per agent.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crm_links import crm_link
from core.customers import by_phone
from core.db import Database
from core.events import DomainEvent, EventBus
from core.phones import format_phone, try_normalize_phone
from core.records import OPEN_STATUSES, Ticket
from cti.events import (
    CallAgentLeft,
    CallAnswered,
    CallEnded,
    CallPanel,
    CallRinging,
    ScreenPopShown,
    ScreenPopWithdrawn,
)
from cti.worker import EventWorker
from routing.desk import TicketDesk
from routing.ticket_listing import customer_history_query

log = logging.getLogger(__name__)

CALL_EVENTS = (CallRinging, CallAgentLeft, CallAnswered, CallEnded)


class ScreenPopService:
    def __init__(self, db: Database, desk: TicketDesk, bus: EventBus, region: str = "US", crm_url: str | None = None) -> None:
        self.db = db
        self.desk = desk
        self.bus = bus
        self.region = region
        self.crm_url = crm_url
        self.worker = EventWorker("cti-screen-pop", self.handle)
        self._pops: dict[tuple[str, str], dict[str, Any]] = {}
        self._shown: dict[tuple[str, str], set[int]] = {}
        self._panel: dict[tuple[str, str], int] = {}

    def subscribe(self) -> None:
        for event_type in CALL_EVENTS:
            self.bus.subscribe(event_type, self.worker.submit)

    async def handle(self, event: DomainEvent) -> None:
        if isinstance(event, CallRinging):
            await self._ringing(event)
        elif isinstance(event, CallAgentLeft):
            await self._left(event)
        elif isinstance(event, CallAnswered):
            await self._answered(event)
        elif isinstance(event, CallEnded):
            await self._ended(event)

    async def build(self, number: str, caller_name: str = "") -> dict[str, Any]:
        """The pop's content: the customer and their open tickets and history, or an unknown caller."""
        e164 = try_normalize_phone(number, self.region) if number else None
        pop: dict[str, Any] = {
            "number": e164 or number,
            "number_display": format_phone(e164) if e164 else (number or "withheld"),
            "caller_name": caller_name,
            "customer": None,
            "open_tickets": [],
            "history": [],
            "crm_url": crm_link(self.crm_url, None, e164 or number),
        }
        if e164 is None:
            return pop
        pop.update(await self.db.read(functools.partial(_caller_record, e164)))
        if pop["customer"]:
            pop["crm_url"] = crm_link(self.crm_url, pop["customer"]["external_id"], e164)
        return pop

    async def _ringing(self, event: CallRinging) -> None:
        key = (event.pbx, event.linkedid)
        if not event.user_ids:
            return
        pop = self._pops.get(key)
        if pop is None:
            pop = await self.build(event.number, event.caller_name)
            pop.update({"queue": event.queue, "direction": event.direction, "linkedid": event.linkedid})
            self._pops[key] = pop
        shown = self._shown.setdefault(key, set())
        users = tuple(u for u in event.user_ids if u not in shown)
        if users:
            shown.update(users)
            await self.bus.publish(ScreenPopShown(users, event.pbx, event.linkedid, pop))

    async def _left(self, event: CallAgentLeft) -> None:
        key = (event.pbx, event.linkedid)
        shown = self._shown.get(key, set())
        users = tuple(u for u in event.user_ids if u in shown)
        if users:
            shown.difference_update(users)
            await self.bus.publish(ScreenPopWithdrawn(users, event.pbx, event.linkedid, event.reason))
        panel_user = self._panel.get(key)
        if panel_user is not None and panel_user in event.user_ids:
            del self._panel[key]
            await self.bus.publish(CallPanel((panel_user,), event.pbx, event.linkedid, event.reason, {}))

    async def _answered(self, event: CallAnswered) -> None:
        key = (event.pbx, event.linkedid)
        user = event.agent_user_id
        if user is None:
            return
        self._shown.get(key, set()).discard(user)
        pop = self._pops.get(key)
        if pop is None:
            pop = await self.build(event.number)
            self._pops[key] = pop
        self._panel[key] = user
        call = {**pop, "queue": event.queue, "direction": event.direction, "interface": event.interface, "wait_s": event.wait_s}
        await self.bus.publish(CallPanel((user,), event.pbx, event.linkedid, "live", call))

    async def _ended(self, event: CallEnded) -> None:
        key = (event.pbx, event.linkedid)
        self._pops.pop(key, None)
        shown = self._shown.pop(key, set())
        if shown:
            await self.bus.publish(ScreenPopWithdrawn(tuple(sorted(shown)), event.pbx, event.linkedid, "hung-up"))
        user = self._panel.pop(key, None)
        if user is not None:
            await self.bus.publish(CallPanel((user,), event.pbx, event.linkedid, "ended", {"outcome": event.outcome, "talk_s": event.talk_s}))


def _caller_record(e164: str, session: Session) -> dict[str, Any]:
    """The pop's database part in one read (``Database.read``): the caller, their open
    tickets and their last interactions; nothing for an unknown number."""
    customer = session.execute(by_phone(e164)).scalars().first()
    if customer is None:
        return {}
    open_tickets = (
        select(Ticket)
        .where(Ticket.customer_id == customer.id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.updated_at.desc())
        .limit(5)
    )
    return {
        "customer": {"id": customer.id, "name": customer.name, "tier": customer.tier, "tags": list(customer.tags or []),
                     "external_id": customer.external_id},
        "open_tickets": [
            {"id": t.id, "tag": t.tag, "subject": t.subject, "status": t.status, "queue": t.queue}
            for t in session.execute(open_tickets).scalars().unique()
        ],
        "history": [
            {"ticket_id": t.id, "tag": t.tag, "kind": e.kind, "at": e.created_at.isoformat(), "summary": _summary(e.kind, e.payload)}
            for e, t in session.execute(customer_history_query(customer.id, 5)).unique()
        ],
    }


def _summary(kind: str, payload: dict[str, Any]) -> str:
    for key in ("subject", "text", "outcome"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value[:120]
    return kind
