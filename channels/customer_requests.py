"""A signed-in customer's own requests on the help centre: the list, the public thread, a reply.

A customer sees only tickets that are theirs (another id is a ``NotFound``, as if it did not
exist) and only what was said with them: their messages, our replies and the calls (as "a
phone call on <date>") — never internal notes, routing or anything else on the timeline.
Their reply enters like an incoming mail through the desk (the same ``RoutingPolicy`` seam,
channel "web") and reopens a solved ticket, as a customer's mail does.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.outgoing import MailServices
from core.auth import Actor
from core.errors import InvalidInput, NotFound
from core.records import (
    Channel,
    Customer,
    CustomerEmail,
    EntryKind,
    Ticket,
    TicketStatus,
    TimelineEntry,
)
from routing import Contact

REPLY_CAP = 10_000


@dataclasses.dataclass(slots=True)
class PublicMessage:
    """One thing said on a ticket, as the customer may see it: ``who`` is customer, us or call."""

    who: str
    at: datetime
    text: str


@dataclasses.dataclass(slots=True)
class CustomerTicket:
    id: int
    tag: str
    subject: str
    status: str
    channel: str
    created_at: datetime


def _public(ticket: Ticket) -> CustomerTicket:
    return CustomerTicket(ticket.id, ticket.tag, ticket.subject, ticket.status, ticket.channel, ticket.created_at)


class CustomerRequests:
    def __init__(self, deps: MailServices) -> None:
        self.db = deps.db
        self.desk = deps.desk
        self.clock = deps.clock

    async def tickets(self, session: AsyncSession, customer: Customer) -> list[CustomerTicket]:
        """The customer's tickets across channels, newest first (merged-away ones left out)."""
        stmt = select(Ticket).where(Ticket.customer_id == customer.id).order_by(Ticket.created_at.desc(), Ticket.id.desc())
        return [_public(t) for t in (await session.scalars(stmt)) if t.merged_into_id is None]

    async def _own(self, session: AsyncSession, customer: Customer, ticket_id: int) -> Ticket:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None or ticket.customer_id != customer.id:
            raise NotFound("no such ticket", {"id": ticket_id})
        return ticket

    async def thread(self, session: AsyncSession, customer: Customer, ticket_id: int) -> tuple[CustomerTicket, list[PublicMessage]]:
        ticket = await self._own(session, customer, ticket_id)
        entries = await session.scalars(select(TimelineEntry).where(
            TimelineEntry.ticket_id == ticket.id,
            TimelineEntry.kind.in_((EntryKind.EMAIL_IN.value, EntryKind.EMAIL_OUT.value, EntryKind.CALL.value)),
        ).order_by(TimelineEntry.created_at, TimelineEntry.id))
        messages = []
        for entry in entries:
            if entry.kind == EntryKind.CALL.value:
                messages.append(PublicMessage("call", entry.created_at, ""))
            else:
                who = "customer" if entry.kind == EntryKind.EMAIL_IN.value else "us"
                messages.append(PublicMessage(who, entry.created_at, str(entry.payload.get("text") or "")))
        return _public(ticket), messages

    async def reply(self, customer_id: int, ticket_id: int, text: str) -> None:
        """The customer's message on their ticket, like an incoming mail; a solved ticket reopens."""
        text = text.strip()
        if not text:
            raise InvalidInput("this field is required", {"field": "message"})
        if len(text) > REPLY_CAP:
            raise InvalidInput("the value is too long", {"field": "message", "max": REPLY_CAP})
        async with self.db.transaction() as session:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound("no such ticket", {"id": ticket_id})
            ticket = await self._own(session, customer, ticket_id)
            address = await session.scalar(select(CustomerEmail.address).where(CustomerEmail.customer_id == customer.id)
                                           .order_by(CustomerEmail.id).limit(1))
            contact = Contact(channel=Channel.WEB.value, customer_id=customer.id, customer_tier=customer.tier,
                              subject=ticket.subject, body=text, address=address, ticket_id=ticket.id)
            payload = {"channel": Channel.WEB.value, "text": text, "from": address or "", "subject": ticket.subject,
                       "portal": True}
            await self.desk.accept(session, contact, EntryKind.EMAIL_IN, payload)
            if ticket.status in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value):
                await self.desk.set_status(session, Actor.system(), ticket.id, TicketStatus.OPEN.value)
        await self.desk.publish_pending(session)
