"""The view log: every look by a person at a customer record or a ticket, kept for admins.

A page view only appends a tuple to a list in memory (no database work on the request's path);
a supervised loop writes what has gathered in one multi-row INSERT every second, or sooner when
a batch fills. If the database is away, views wait in memory up to ``MAX_PENDING`` (the oldest
are then counted as lost and logged, never blocking a page); on shutdown the rest is written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.clock import Clock
from core.db import Database
from core.records import Customer, Role, Ticket, User
from core.supervisor import SupervisedTask
from privacy.records import RecordView

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0
BATCH = 500
MAX_PENDING = 50_000
PAGE_SIZE = 100
MAX_ID = 2**31 - 1


class ViewLog:
    """Gathers views in memory and writes them in batches."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.pending: list[dict[str, Any]] = []
        self.lost = 0
        self._wake = asyncio.Event()

    def note(self, user_id: int | None, *, customer_id: int | None = None, ticket_id: int | None = None,
             via: str = "page") -> None:
        """Called from the request: O(1), no I/O."""
        if customer_id is None and ticket_id is None:
            return
        self.pending.append({"user_id": user_id, "customer_id": customer_id, "ticket_id": ticket_id,
                             "via": via, "at": self.clock.now()})
        if len(self.pending) > MAX_PENDING:
            dropped = len(self.pending) - MAX_PENDING
            del self.pending[:dropped]
            self.lost += dropped
            log.warning("view log: %d views lost while the database was away", dropped)
        if len(self.pending) >= BATCH:
            self._wake.set()

    async def flush(self) -> int:
        """Write what has gathered; on failure the views go back to the front of the list."""
        written = 0
        while self.pending:
            batch, self.pending = self.pending[:BATCH], self.pending[BATCH:]
            try:
                async with self.db.transaction() as session:
                    await _insert_known(session, batch)
            except BaseException:
                self.pending[:0] = batch
                raise
            written += len(batch)
        return written

    async def run(self, task: SupervisedTask) -> None:
        task.healthy()
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY_S)
                except TimeoutError:
                    pass
                self._wake.clear()
                await self.flush()
                task.healthy()
        finally:
            if self.pending:
                await asyncio.shield(self._final_flush())

    async def _final_flush(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # shutting down: report, do not mask the cancellation
            log.warning("view log: %d views not written at shutdown: %s", len(self.pending), exc)


async def _insert_known(session: AsyncSession, batch: list[dict[str, Any]]) -> None:
    """Insert the views whose customer or ticket still exists (one may have been deleted since)."""
    customers = {r["customer_id"] for r in batch if r["customer_id"] is not None}
    tickets = {r["ticket_id"] for r in batch if r["ticket_id"] is not None}
    known_customers = set((await session.execute(select(Customer.id).where(Customer.id.in_(customers)))).scalars()) \
        if customers else set()
    known_tickets = set((await session.execute(select(Ticket.id).where(Ticket.id.in_(tickets)))).scalars()) \
        if tickets else set()
    rows = [r for r in batch if (r["customer_id"] in known_customers) or (r["ticket_id"] in known_tickets)]
    if rows:
        await session.execute(insert(RecordView), rows)


@dataclasses.dataclass(frozen=True)
class ViewFilter:
    user_id: int | None = None
    customer_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1


@dataclasses.dataclass(frozen=True)
class ViewRow:
    at: datetime
    via: str
    user: str | None
    customer_id: int | None
    customer_name: str | None
    ticket_id: int | None
    ticket_number: int | None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "at": self.at.isoformat()}


async def find_views(session: AsyncSession, actor: Actor, wanted: ViewFilter) -> tuple[list[ViewRow], bool]:
    """One page of views, newest first, and whether there is a next page. Admins only."""
    actor.require(Role.ADMIN)
    if any(i is not None and not 1 <= i <= MAX_ID for i in (wanted.user_id, wanted.customer_id)):
        return [], False  # past a 32-bit id column: nobody
    ticket_customer = select(Ticket.customer_id).where(Ticket.id == RecordView.ticket_id).scalar_subquery()
    customer_of = func.coalesce(RecordView.customer_id, ticket_customer)
    stmt = (select(RecordView, User.display_name, Customer.name, customer_of)
            .outerjoin(User, User.id == RecordView.user_id)
            .outerjoin(Customer, Customer.id == customer_of))
    if wanted.user_id is not None:
        stmt = stmt.where(RecordView.user_id == wanted.user_id)
    if wanted.customer_id is not None:
        theirs = select(Ticket.id).where(Ticket.customer_id == wanted.customer_id)
        stmt = stmt.where(or_(RecordView.customer_id == wanted.customer_id, RecordView.ticket_id.in_(theirs)))
    if wanted.since is not None:
        stmt = stmt.where(RecordView.at >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(RecordView.at < wanted.until)
    offset = (wanted.page - 1) * PAGE_SIZE
    rows = (await session.execute(stmt.order_by(RecordView.at.desc(), RecordView.id.desc())
                                  .offset(offset).limit(PAGE_SIZE + 1))).all()
    found = [ViewRow(view.at, view.via, user, cid, name, view.ticket_id,
                     None if view.ticket_id is None else Ticket(id=view.ticket_id).number)
             for view, user, name, cid in rows[:PAGE_SIZE]]
    return found, len(rows) > PAGE_SIZE
