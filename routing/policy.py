"""The routing seam: every contact passes through ``RoutingPolicy.route`` before it is a ticket.

The default policy comes from the config. Ops-edited rules implement the same
protocol and replace it in the composition root; the channels never change.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.records import OPEN_STATUSES, TICKET_NUMBER_OFFSET, Category, Ticket, Tier, User
from routing.contact import Contact, Decision
from routing.settings import RoutingSettings


class RoutingPolicy(Protocol):
    async def route(self, session: AsyncSession, contact: Contact) -> Decision: ...


class DefaultPolicy:
    """Queue per channel, VIPs first, the customer's open ticket reused, last agent preferred."""

    def __init__(self, settings: RoutingSettings) -> None:
        self.settings = settings

    async def route(self, session: AsyncSession, contact: Contact) -> Decision:
        s = self.settings
        queue = contact.queue_hint or s.queues.get(contact.channel) or contact.channel
        decision = Decision(
            queue=queue,
            priority=s.default_priority,
            category=contact.category or Category.OTHER.value,
            reasons=[f"queue for channel {contact.channel}"],
        )
        if contact.customer_tier == Tier.VIP.value:
            decision.priority = s.vip_priority
            decision.reasons.append("VIP customer")
        if contact.ticket_id is not None:
            decision.join_ticket_id = contact.ticket_id
            decision.reasons.append("threaded by the channel")
            return decision
        if contact.customer_id is None:
            return decision
        open_ticket, last_agent = await self._history(session, contact.customer_id)
        if open_ticket is not None:
            ticket_id, ticket_queue = open_ticket
            decision.join_ticket_id = ticket_id
            decision.queue = ticket_queue
            decision.reasons.append(f"customer's open ticket #{ticket_id + TICKET_NUMBER_OFFSET}")
            return decision
        if s.prefer_last_agent and last_agent is not None:
            decision.assignee_id = last_agent
            decision.reasons.append("customer's last agent")
        return decision

    async def _history(
        self, session: AsyncSession, customer_id: int, depth: int = 50
    ) -> tuple[tuple[int, str] | None, int | None]:
        """The customer's latest open ticket and last active agent, from one indexed read."""
        stmt = (
            select(Ticket.id, Ticket.queue, Ticket.status, Ticket.assignee_id, User.active)
            .outerjoin(User, User.id == Ticket.assignee_id)
            .where(Ticket.customer_id == customer_id)
            .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
            .limit(depth)
        )
        open_ticket: tuple[int, str] | None = None
        last_agent: int | None = None
        for ticket_id, queue, status, assignee_id, active in await session.execute(stmt):
            if open_ticket is None and status in OPEN_STATUSES:
                open_ticket = (ticket_id, queue)
            if last_agent is None and assignee_id is not None and active:
                last_agent = assignee_id
            if open_ticket is not None and last_agent is not None:
                break
        return open_ticket, last_agent
