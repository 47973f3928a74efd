"""The outbox: messages written in the same transaction as their cause, delivered by a worker.

One worker per channel ("email", "sms") claims due rows, hands each to a delivery
function, and records the result. Claiming moves ``next_attempt_at`` forward by a
lease before delivery, so a crashed instance's rows are retried after the lease and
several instances never deliver the same row at once (PostgreSQL: ``FOR UPDATE SKIP
LOCKED``). Temporary failures retry with exponential backoff; after the last try, or on
a permanent failure, the row is marked failed and ``on_failed`` runs (e.g. SMS → email
fallback, a failure shown on the ticket) in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.clock import Clock, as_utc, sleep_or_wake
from core.db import Database
from core.records import OutboxMessage, OutboxStatus
from core.supervisor import SupervisedTask

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    permanent = False


class TemporaryFailure(DeliveryError):
    """The peer may accept later (4xx SMTP, 5xx/timeout from an SMS gateway)."""


class PermanentFailure(DeliveryError):
    permanent = True


Deliver = Callable[[OutboxMessage], Awaitable[None]]
OnFailed = Callable[[AsyncSession, OutboxMessage], Awaitable[None]]
OnSent = Callable[[AsyncSession, OutboxMessage], Awaitable[None]]
AfterCommit = Callable[[AsyncSession], Awaitable[None]]


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        channel: str,
        deliver: Deliver,
        clock: Clock,
        *,
        max_attempts: int = 6,
        retry_base: float = 5.0,
        retry_max: float = 600.0,
        lease: float = 120.0,
        batch: int = 20,
        idle_wait: float = 30.0,
        on_failed: OnFailed | None = None,
        on_sent: OnSent | None = None,
        after_commit: AfterCommit | None = None,
        concurrency: int = 1,
    ) -> None:
        self.db = db
        self.channel = channel
        self.deliver = deliver
        self.clock = clock
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.lease = lease
        self.batch = batch
        self.idle_wait = idle_wait
        self.on_failed = on_failed
        self.on_sent = on_sent
        # Runs after each result is committed, e.g. to publish events the callbacks collected.
        self.after_commit = after_commit
        # Deliveries of one claimed batch that may be in flight at once; their results are
        # recorded together, so a crash mid-batch re-sends at most one batch (at least once).
        self.concurrency = max(1, concurrency)
        self.sent = 0
        self.failed = 0
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Call after committing new rows, so they go out now rather than at the next poll."""
        self._wakeup.set()

    async def run(self, task: SupervisedTask) -> None:
        """Supervised body: deliver until cancelled."""
        while True:
            delivered = await self.run_once()
            task.healthy(f"sent {self.sent}, failed {self.failed}")
            if delivered:
                continue
            await self._sleep_until_due()

    async def run_once(self) -> int:
        """Claim and deliver one batch, then record every result in one transaction."""
        claimed = await self._claim()
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self.concurrency)

        async def attempt(message: OutboxMessage) -> DeliveryError | None:
            async with limit:
                return await self._attempt(message)

        errors = await asyncio.gather(*(attempt(m) for m in claimed))
        outcome = {m.id: e for m, e in zip(claimed, errors, strict=True)}
        claim = {m.id: m.attempts for m in claimed}
        async with self.db.session() as session:
            async with session.begin():
                stmt = select(OutboxMessage).where(OutboxMessage.id.in_(outcome))
                if not self.db.is_sqlite:
                    stmt = stmt.with_for_update()
                for row in (await session.execute(stmt)).scalars():
                    if row.status != OutboxStatus.PENDING.value or row.attempts != claim[row.id]:
                        # Our lease ran out and another instance claimed it since: its result counts.
                        log.warning("outbox %s: message %s was claimed again meanwhile; not recorded twice",
                                    self.channel, row.id)
                        continue
                    await self._record(session, row, outcome[row.id])
            if self.after_commit:
                await self.after_commit(session)
        return len(claimed)

    async def _claim(self) -> list[OutboxMessage]:
        now = self.clock.now()
        async with self.db.transaction() as session:
            stmt = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                    OutboxMessage.channel == self.channel,
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch)
            )
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.execute(stmt)).scalars())
            until = now + timedelta(seconds=self.lease)
            if not self.db.is_sqlite:
                for row in rows:
                    row.attempts += 1
                    row.next_attempt_at = until
                return rows
            # SQLite reads outside the write lock (the driver begins at the first write), so two
            # workers may read the same rows: each takes a row only if its attempts are still
            # what it read — the writes are serialised, the second finds it changed.
            taken = []
            for row in rows:
                result = await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.attempts == row.attempts,
                           OutboxMessage.status == OutboxStatus.PENDING.value)
                    .values(attempts=row.attempts + 1, next_attempt_at=until)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    set_committed_value(row, "attempts", row.attempts + 1)
                    set_committed_value(row, "next_attempt_at", until)
                    taken.append(row)
        return taken

    async def _attempt(self, message: OutboxMessage) -> DeliveryError | None:
        try:
            await self.deliver(message)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # an unexpected error is treated as temporary, and logged
            log.exception("outbox %s: delivery of %s raised", self.channel, message.id)
            return TemporaryFailure(f"{type(exc).__name__}: {exc}")
        return None

    async def _record(self, session: AsyncSession, row: OutboxMessage, error: DeliveryError | None) -> None:
        now = self.clock.now()
        if error is None:
            row.status = OutboxStatus.SENT.value
            row.sent_at = now
            row.last_error = None
            self.sent += 1
            if self.on_sent:
                await self.on_sent(session, row)
            return
        row.last_error = str(error)[:2000]
        if error.permanent or row.attempts >= self.max_attempts:
            row.status = OutboxStatus.FAILED.value
            self.failed += 1
            log.warning("outbox %s: message %s failed for good: %s", self.channel, row.id, error)
            if self.on_failed:
                await self.on_failed(session, row)
        else:
            delay = min(self.retry_max, self.retry_base * 2 ** (row.attempts - 1))
            row.next_attempt_at = now + timedelta(seconds=delay)
            log.info("outbox %s: message %s retry in %.0fs: %s", self.channel, row.id, delay, error)

    async def next_due(self) -> datetime | None:
        async with self.db.session() as session:
            stmt = select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.channel == self.channel,
            )
            value = (await session.execute(stmt)).scalar()
        return as_utc(value) if value else None

    async def _sleep_until_due(self) -> None:
        self._wakeup.clear()  # before reading, so a wake() during the read is not lost
        await sleep_or_wake(self.clock, self._wakeup, await self.next_due(), self.idle_wait)
