"""Sends one webhook delivery (an outbox row of channel ``webhook``) and logs the attempt.

Called by the shared ``OutboxWorker``, which claims rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several instances share the work without sending a row twice), retries with
exponential backoff and gives up after ``max_attempts``. A 2xx answer is delivered; any
other answer, a timeout or a refused connection is tried again; a deleted or disabled
subscription, or a target that is not allowed, fails at once. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import delete, select

from channels.outbox import PermanentFailure, TemporaryFailure
from core.clock import Clock
from core.db import Database
from core.records import OutboxMessage
from integrations.records import WebhookAttempt, WebhookSubscription
from integrations.settings import WebhookSettings
from integrations.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from integrations.targets import GuardedResolver, TargetRefused, host_may_be_public

log = logging.getLogger(__name__)

USER_AGENT = "Frontdesk-Webhooks/1"
ERROR_CAP = 500


class WebhookSender:
    def __init__(self, db: Database, clock: Clock, settings: WebhookSettings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self._http: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.settings.allow_private_targets), limit=50)
            self._http = aiohttp.ClientSession(connector=connector,
                                               timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __call__(self, message: OutboxMessage) -> None:
        payload: dict[str, Any] = message.payload or {}
        async with self.db.session() as session:
            subscription = await session.get(WebhookSubscription, payload.get("subscription_id"))
        if subscription is None:
            raise PermanentFailure("the webhook was deleted")
        if not subscription.enabled:
            await self._log(subscription.id, message, None, 0, "the webhook is disabled", final=True)
            raise PermanentFailure("the webhook is disabled")
        host = (urlsplit(subscription.url).hostname or "").lower()
        if not self.settings.allow_private_targets and not host_may_be_public(host):
            refusal = "private, loopback and link-local addresses are not allowed"
            await self._log(subscription.id, message, None, 0, refusal, final=True)
            raise PermanentFailure(refusal)
        status, error, permanent, elapsed_ms = await self._post(subscription, message)
        final = (status is not None and 200 <= status < 300) or permanent or message.attempts >= self.settings.max_attempts
        await self._log(subscription.id, message, status, elapsed_ms, error, final=final)
        if error is not None:
            raise (PermanentFailure if permanent else TemporaryFailure)(error)

    async def _post(self, subscription: WebhookSubscription,
                    message: OutboxMessage) -> tuple[int | None, str | None, bool, int]:
        body = message.body.encode()
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(subscription.secret, timestamp, body),
            EVENT_ID_HEADER: str(message.payload.get("event_id", "")),
            EVENT_TYPE_HEADER: message.subject,
        }
        status: int | None = None
        error: str | None = None
        permanent = False
        started = time.monotonic()
        try:
            async with self._client().post(subscription.url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                status = response.status
                await response.content.read(4096)  # a little of the answer, so the connection can be reused
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):
                error, permanent = str(exc.os_error), True
            else:
                error = f"could not connect: {exc.os_error or exc}"
        except TimeoutError:
            error = f"no answer within {self.settings.timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed_ms = round((time.monotonic() - started) * 1000)
        if error is None and status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        return status, (error or None) and error[:ERROR_CAP], permanent, elapsed_ms

    async def _log(self, subscription_id: int, message: OutboxMessage, status: int | None, elapsed_ms: int,
                   error: str | None, final: bool) -> None:
        """One row of the delivery log; the oldest beyond ``log_keep`` go (deliveries logged side
        by side may each miss the others' rows, so the log can briefly hold a batch more)."""
        outcome = "delivered" if error is None else ("failed" if final else "retrying")
        payload = message.payload or {}
        try:
            async with self.db.transaction() as session:
                session.add(WebhookAttempt(
                    subscription_id=subscription_id, event_id=str(payload.get("event_id", ""))[:64],
                    event_type=message.subject[:40], attempt=message.attempts, status_code=status,
                    duration_ms=elapsed_ms, error=error, outcome=outcome, at=self.clock.now()))
                await session.flush()
                cutoff = (select(WebhookAttempt.id).where(WebhookAttempt.subscription_id == subscription_id)
                          .order_by(WebhookAttempt.id.desc()).offset(self.settings.log_keep).limit(1)).scalar_subquery()
                await session.execute(delete(WebhookAttempt).where(
                    WebhookAttempt.subscription_id == subscription_id, WebhookAttempt.id <= cutoff))
        except asyncio.CancelledError:
            raise
        except Exception:  # the log is for people; a failure to write it must not resend the webhook
            log.exception("webhooks: could not log delivery %s", message.id)
