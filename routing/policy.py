"""The routing seam: every contact passes through ``RoutingPolicy.route`` before it is a ticket.

The default policy comes from the config. Ops-edited rules implement the same
protocol and replace it in the composition root; the channels never change.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.records import OPEN_STATUSES, Category, Ticket, Tier
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
        open_ticket = await self._open_ticket(session, contact.customer_id)
        if open_ticket is not None:
            decision.join_ticket_id = open_ticket.id
            decision.queue = open_ticket.queue
            decision.reasons.append(f"customer's open ticket {open_ticket.tag}")
            return decision
        if s.prefer_last_agent:
            decision.assignee_id = await self._last_agent(session, contact.customer_id)
            if decision.assignee_id:
                decision.reasons.append("customer's last agent")
        return decision

    async def _open_ticket(self, session: AsyncSession, customer_id: int) -> Ticket | None:
        stmt = (
            select(Ticket)
            .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.updated_at.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalars().first()

    async def _last_agent(self, session: AsyncSession, customer_id: int) -> int | None:
        stmt = (
            select(Ticket.assignee_id)
            .where(Ticket.customer_id == customer_id, Ticket.assignee_id.is_not(None))
            .order_by(Ticket.updated_at.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalar()
