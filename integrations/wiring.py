"""The webhook feature's parts, built from what the server hands over (no globals)."""

from __future__ import annotations

from typing import Protocol

from channels.outbox import OutboxWorker
from core.auth import Actor
from core.errors import Conflict
from core.services import CoreServices
from integrations.customer_watch import CustomerWatch
from integrations.deliveries import new_event_id, queue_event
from integrations.feed import WebhookFeed
from integrations.sender import WebhookSender
from integrations.settings import WebhookSettings
from integrations.subscriptions import (
    TEST_EVENT,
    WEBHOOK_CHANNEL,
    WebhookSubscriptions,
    subscription_for,
)


class WebhookServerSettings(Protocol):
    @property
    def webhooks(self) -> WebhookSettings: ...


class WebhookServices(CoreServices, Protocol):
    @property
    def settings(self) -> WebhookServerSettings: ...


class Webhooks:
    """Subscriptions, the bus feed, the sender and its outbox worker."""

    def __init__(self, services: CoreServices, settings: WebhookSettings) -> None:
        self.db = services.db
        self.clock = services.clock
        self.settings = settings
        self.subscriptions = WebhookSubscriptions(services.db, services.clock, settings.allow_private_targets)
        self.feed = WebhookFeed(services.db, services.clock)
        self.sender = WebhookSender(services.db, services.clock, settings)
        self.worker = OutboxWorker(
            services.db, WEBHOOK_CHANNEL, self.sender, services.clock,
            max_attempts=settings.max_attempts, retry_base=settings.retry_base_s, retry_max=settings.retry_max_s,
            lease=settings.timeout_s * 2 + 30, concurrency=8,
        )
        self.subscriptions.on_change.append(self.feed.forget_wanted)
        self.feed.on_queued.append(self.worker.wake)
        self.feed.subscribe(services.bus)
        self.customer_watch = CustomerWatch(services.db, services.bus)
        self.customer_watch.install()

    async def send_test(self, actor: Actor, subscription_id: int) -> str:
        """Queue a ``webhook.test`` event to one subscription; its id, to find it in the log."""
        event_id = new_event_id()
        async with self.db.transaction() as session:
            row = await subscription_for(session, actor, subscription_id)
            if not row.enabled:
                raise Conflict("enable the webhook before sending it a test", {"id": subscription_id})
            data = {"message": "A test event from Frontdesk", "subscription_id": row.id}
            await queue_event(session, [row], TEST_EVENT, data, self.clock.now(), event_id, every=True)
        self.worker.wake()
        return event_id

    async def close(self) -> None:
        self.customer_watch.remove()
        await self.sender.close()
