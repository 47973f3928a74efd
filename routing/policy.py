"""The routing seam: every contact passes through ``RoutingPolicy.route`` before it is a ticket.

The default policy comes from the config. Ops-edited rules implement the same
protocol and replace it in the composition root; the channels never change.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.records import TICKET_NUMBER_OFFSET, Category, Ticket, Tier
from routing import history
from routing.contact import Contact, Decision
from routing.settings import RoutingSettings


class RoutingPolicy(Protocol):
    async def route(self, session: AsyncSession, contact: Contact) -> Decision: ...

    async def prefetch(self, session: AsyncSession, customer_ids: Collection[int]) -> None:
        """Read ahead for a batch of contacts from these customers (optional: may do nothing)."""

    def opened(self, session: AsyncSession, ticket: Ticket) -> None:
        """The desk opened ``ticket`` in this session (for what ``prefetch`` remembers)."""


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
        open_ticket, last_agent = await history.customer_tickets(session, contact.customer_id)
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

    async def prefetch(self, session: AsyncSession, customer_ids: Collection[int]) -> None:
        await history.prefetch(session, customer_ids)

    def opened(self, session: AsyncSession, ticket: Ticket) -> None:
        history.opened(session, ticket)
