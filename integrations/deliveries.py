"""Turning one webhook event into outbox rows: one per enabled subscription that wants it.

The body is made here, once, so every retry sends the same bytes with the same event id
(receivers deduplicate on ``Frontdesk-Event-Id``). The row's ``dedup_key`` (subscription,
event id) is unique in the outbox, so an event with a stable id — a call's start, a
rating — is queued at most once per subscription however often it is seen.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.records import OutboxMessage
from integrations.records import WebhookSubscription
from integrations.subscriptions import WEBHOOK_CHANNEL, recipient_of


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def stable_event_id(*parts: object) -> str:
    """An id that is the same each time the same thing is seen (uuid5 over its parts)."""
    return "evt_" + uuid.uuid5(uuid.NAMESPACE_URL, "frontdesk:" + ":".join(map(str, parts))).hex


def event_body(event_id: str, event_type: str, data: dict[str, Any], now: datetime) -> str:
    return json.dumps({"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data},
                      ensure_ascii=False, separators=(",", ":"), default=str)


def dedup_key(subscription_id: int, event_id: str) -> str:
    return f"webhook:{subscription_id}:{event_id}"


async def enabled_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription).where(WebhookSubscription.enabled.is_(True)).order_by(WebhookSubscription.id)
    return list((await session.execute(stmt)).scalars())


async def queue_event(session: AsyncSession, subscriptions: Iterable[WebhookSubscription], event_type: str,
                      data: dict[str, Any], now: datetime, event_id: str | None = None,
                      every: bool = False) -> list[OutboxMessage]:
    """Outbox rows for the subscriptions that want ``event_type`` (``every``: all given)."""
    event_id = event_id or new_event_id()
    targets = [s for s in subscriptions if every or event_type in (s.events or ())]
    if not targets:
        return []
    keys = {dedup_key(s.id, event_id): s for s in targets}
    seen = set((await session.execute(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(keys)))).scalars())
    body = event_body(event_id, event_type, data, now)
    rows = [
        OutboxMessage(channel=WEBHOOK_CHANNEL, recipient=recipient_of(s.id), subject=event_type, body=body,
                      payload={"subscription_id": s.id, "event_id": event_id, "event_type": event_type},
                      dedup_key=key, next_attempt_at=now, created_at=now)
        for key, s in keys.items() if key not in seen
    ]
    session.add_all(rows)
    return rows
