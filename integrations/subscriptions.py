"""Webhook subscriptions: where to send which events — made, listed, changed, removed by ops.

The signing secret is made here and returned once, when the subscription is made (as an API
token is); afterwards it is only used to sign. Every change is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import Clock
from core.db import Database
from core.errors import InvalidInput, NotFound
from core.records import OutboxMessage, OutboxStatus, Role
from integrations.records import WebhookAttempt, WebhookSubscription
from integrations.targets import check_url

EVENT_TYPES = (
    "ticket.created", "ticket.updated", "ticket.solved",
    "call.started", "call.answered", "call.ended",
    "rating.created",
    "customer.created", "customer.updated",
)
TEST_EVENT = "webhook.test"
WEBHOOK_CHANNEL = "webhook"  # the outbox channel of deliveries
NAME_CAP = 100
SECRET_PREFIX = "whsec_"


def make_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def subscription_dict(row: WebhookSubscription) -> dict[str, Any]:
    """What the API and the page show: never the secret."""
    return {
        "id": row.id, "name": row.name, "url": row.url, "events": list(row.events or []), "enabled": row.enabled,
        "secret_hint": row.secret[: len(SECRET_PREFIX) + 4] + "…",
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


def attempt_dict(row: WebhookAttempt) -> dict[str, Any]:
    return {
        "id": row.id, "event_id": row.event_id, "event_type": row.event_type, "attempt": row.attempt,
        "status_code": row.status_code, "duration_ms": row.duration_ms, "error": row.error,
        "outcome": row.outcome, "at": row.at.isoformat(),
    }


def check_draft(data: dict[str, Any], allow_private: bool, partial: bool = False) -> dict[str, Any]:
    """The fields of ``data`` a subscription may take, checked; refuses with the field named."""
    clean: dict[str, Any] = {}
    if "name" in data or not partial:
        name = data.get("name", "")
        if not isinstance(name, str):
            raise InvalidInput("the name is text", {"field": "name"})
        name = name.strip()
        if len(name) > NAME_CAP:
            raise InvalidInput("the value is too long", {"field": "name", "max": NAME_CAP})
        clean["name"] = name
    if "url" in data or not partial:
        url = data.get("url", "")
        if not isinstance(url, str):
            raise InvalidInput("the URL is text", {"field": "url"})
        clean["url"] = check_url(url, allow_private)
    if "events" in data or not partial:
        events = data.get("events")
        if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
            raise InvalidInput("events is a list of event types", {"field": "events"})
        unknown = sorted(set(events) - set(EVENT_TYPES))
        if unknown:
            raise InvalidInput("unknown event type", {"field": "events", "unknown": unknown,
                                                      "known": list(EVENT_TYPES)})
        if not events:
            raise InvalidInput("choose at least one event", {"field": "events"})
        clean["events"] = [e for e in EVENT_TYPES if e in set(events)]
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise InvalidInput("enabled is true or false", {"field": "enabled"})
        clean["enabled"] = data["enabled"]
    return clean


class WebhookSubscriptions:
    """The subscriptions' store. Each method is one transaction; ``on_change`` callbacks run
    after it commits (the event feed forgets which event types are wanted)."""

    def __init__(self, db: Database, clock: Clock, allow_private: bool) -> None:
        self.db = db
        self.clock = clock
        self.allow_private = allow_private
        self.on_change: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for callback in self.on_change:
            callback()

    async def all(self, actor: Actor) -> list[WebhookSubscription]:
        actor.require(Role.OPS)
        async with self.db.session() as session:
            stmt = select(WebhookSubscription).order_by(WebhookSubscription.id)
            return list((await session.execute(stmt)).scalars())

    async def get(self, actor: Actor, subscription_id: int) -> WebhookSubscription:
        async with self.db.session() as session:
            return await subscription_for(session, actor, subscription_id)

    async def create(self, actor: Actor, data: dict[str, Any]) -> tuple[WebhookSubscription, str]:
        """The new subscription and its secret (the only time the secret is returned)."""
        actor.require(Role.OPS)
        clean = check_draft(data, self.allow_private)
        secret = make_secret()
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = WebhookSubscription(name=clean["name"], url=clean["url"], events=clean["events"],
                                      enabled=clean.get("enabled", True), secret=secret,
                                      created_by_id=actor.user_id, created_at=now, updated_at=now)
            session.add(row)
            await session.flush()
            record_change(session, actor, "webhook.create", "webhook", row.id, None, _audited(row))
        self._changed()
        return row, secret

    async def update(self, actor: Actor, subscription_id: int, data: dict[str, Any]) -> WebhookSubscription:
        async with self.db.transaction() as session:
            row = await subscription_for(session, actor, subscription_id)
            clean = check_draft(data, self.allow_private, partial=True)
            before = _audited(row)
            for key, value in clean.items():
                setattr(row, key, value)
            row.updated_at = self.clock.now()
            record_change(session, actor, "webhook.update", "webhook", row.id, before, _audited(row))
        self._changed()
        return row

    async def delete(self, actor: Actor, subscription_id: int) -> WebhookSubscription:
        """Removes it, its log, and what was still waiting to be sent to it."""
        async with self.db.transaction() as session:
            row = await subscription_for(session, actor, subscription_id)
            await session.execute(delete(WebhookAttempt).where(WebhookAttempt.subscription_id == row.id))
            await session.execute(delete(OutboxMessage).where(
                OutboxMessage.channel == WEBHOOK_CHANNEL, OutboxMessage.recipient == recipient_of(row.id),
                OutboxMessage.status == OutboxStatus.PENDING.value))
            await session.delete(row)
            record_change(session, actor, "webhook.delete", "webhook", row.id, _audited(row), None)
        self._changed()
        return row

    async def log(self, actor: Actor, subscription_id: int, limit: int = 100) -> list[WebhookAttempt]:
        """The newest delivery attempts first."""
        async with self.db.session() as session:
            row = await subscription_for(session, actor, subscription_id)
            stmt = (select(WebhookAttempt).where(WebhookAttempt.subscription_id == row.id)
                    .order_by(WebhookAttempt.id.desc()).limit(limit))
            return list((await session.execute(stmt)).scalars())


async def subscription_for(session: AsyncSession, actor: Actor, subscription_id: int) -> WebhookSubscription:
    actor.require(Role.OPS)
    row = await session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound("no such webhook", {"id": subscription_id})
    return row


def _audited(row: WebhookSubscription) -> dict[str, Any]:
    return {"name": row.name, "url": row.url, "events": list(row.events or []), "enabled": row.enabled}


def recipient_of(subscription_id: int) -> str:
    """The outbox row's ``recipient`` for a subscription (the URL is read at send time)."""
    return f"webhook:{subscription_id}"
