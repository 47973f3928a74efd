"""SMS delivery from the outbox, and what happens after: timeline entries, email fallback.

The shared ``OutboxWorker`` claims "sms" rows and calls ``SmsDelivery.deliver``; its
``on_sent``/``on_failed`` run in the transaction that records the result, so the
ticket's timeline entry and the fallback email are written exactly once with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.events import AlertDeliveryFailed
from alerts.sms.gateways import SmsGateway
from alerts.sms.text import split
from core.clock import Clock
from core.records import EntryKind, OutboxMessage
from routing.desk import TicketDesk

log = logging.getLogger(__name__)


class SmsDelivery:
    def __init__(self, gateway: SmsGateway, desk: TicketDesk, clock: Clock, concatenate: bool = True) -> None:
        self.gateway = gateway
        self.desk = desk
        self.clock = clock
        self.concatenate = concatenate
        # Called after a result commits that wrote fallback emails (wakes the email worker).
        self.on_fallback: list[Callable[[], None]] = []

    async def deliver(self, message: OutboxMessage) -> None:
        reference = message.dedup_key or f"outbox:{message.id}"
        if self.concatenate:
            await self.gateway.send(message.recipient, message.body, reference)
            return
        # One SMS per part, each with its own reference, so a retry repeats none the gateway took.
        parts = split(message.body)
        for number, part in enumerate(parts, 1):
            await self.gateway.send(message.recipient, part, f"{reference}#{number}/{len(parts)}")

    async def _timeline(self, session: AsyncSession, row: OutboxMessage, payload: dict[str, Any]) -> None:
        """Added without a flush: the worker records a whole batch of results in one go."""
        if row.ticket_id is not None:
            await self.desk.append(session, row.ticket_id, EntryKind.ALERT, payload, dedup_key=f"outbox:{row.id}", flush=False)

    async def on_sent(self, session: AsyncSession, row: OutboxMessage) -> None:
        await self._timeline(session, row, {
            "event": "delivered", "message": f"SMS alert delivered to {row.recipient}", "channel": "sms", "to": row.recipient, "attempts": row.attempts,
        })

    async def on_failed(self, session: AsyncSession, row: OutboxMessage) -> None:
        """Show the failure on the ticket; send the same alert by email when we know where."""
        fallback = row.payload.get("fallback_email")
        if fallback:
            session.add(OutboxMessage(
                channel="email",
                recipient=str(fallback),
                subject=f"(SMS to {row.recipient} failed) {row.subject}"[:500],
                body=row.body,
                payload={**row.payload, "fallback_of": row.id},
                ticket_id=row.ticket_id,
                next_attempt_at=self.clock.now(),
                dedup_key=f"{row.dedup_key}:fallback",
            ))
            session.info["sla_fallback"] = True
        await self._timeline(session, row, {
            "event": "delivery_failed",
            "message": f"SMS alert to {row.recipient} failed after {row.attempts} attempts: {row.last_error}"
            + (f"; sent by email to {fallback}" if fallback else ""),
            "channel": "sms", "to": row.recipient, "attempts": row.attempts,
            "error": row.last_error, "fallback": fallback,
        })
        if row.ticket_id is not None:
            self.desk.emit(session, AlertDeliveryFailed(row.ticket_id, "sms", row.recipient, row.last_error or ""))

    async def publish(self, session: AsyncSession) -> None:
        """The worker's ``after_commit``: events reach the browsers, fallback emails go out now."""
        fell_back = session.info.pop("sla_fallback", False)
        await self.desk.publish_pending(session)
        if fell_back:
            for wake in self.on_fallback:
                wake()
