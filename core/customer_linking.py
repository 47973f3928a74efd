"""Putting a ticket on a customer after the fact (a mail from an unknown address, a call that
came in withheld), audited: the ticket then shows on the customer's page and its next
contacts route with the customer's tier."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.customers import get_customer
from core.errors import Conflict, NotFound
from core.records import Role, Ticket


async def link_ticket(session: AsyncSession, actor: Actor, ticket_id: int, customer_id: int) -> Ticket:
    actor.require(Role.AGENT, Role.OPS)
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("no such ticket", {"field": "ticket_id", "id": ticket_id})
    customer = await get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict("this customer was merged into another; change that one", {"into": customer.merged_into_id})
    before = {"customer_id": ticket.customer_id}
    ticket.customer_id = customer.id
    await session.flush()
    record_change(session, actor, "ticket.customer", "ticket", ticket.id, before, {"customer_id": customer.id})
    return ticket
