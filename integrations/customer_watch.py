"""Customer records written by any path become ``CustomerCreated`` / ``CustomerUpdated`` events.

Customers are created and changed in many places (mail from a new address, the API, the CSV
import, merges, the help centre) and none of them publishes an event, so instead of a call in
each, this watches the database the way the search index does: a flush listener on this
database's sessions notes which customers were inserted or changed (their phones and emails
included), and when that transaction commits the events go on the bus. A rolled-back
transaction publishes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import Database
from core.events import DomainEvent, EventBus
from core.records import Customer, CustomerEmail, CustomerPhone

PENDING = "frontdesk_customer_changes"


@dataclasses.dataclass(frozen=True)
class CustomerCreated(DomainEvent):
    name: ClassVar[str] = "customer.created"
    customer_id: int
    user_ids: tuple[int, ...] = ()  # server-side only: no browser gets it (agent_ui.live.hub)


@dataclasses.dataclass(frozen=True)
class CustomerUpdated(DomainEvent):
    name: ClassVar[str] = "customer.updated"
    customer_id: int
    user_ids: tuple[int, ...] = ()


class CustomerWatch:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self._publishing: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        cls = self.db.session_class
        event.listen(cls, "after_flush", self._flushed)
        event.listen(cls, "after_commit", self._committed)
        event.listen(cls, "after_soft_rollback", self._rolled_back)

    def remove(self) -> None:
        cls = self.db.session_class
        for name, fn in (("after_flush", self._flushed), ("after_commit", self._committed),
                         ("after_soft_rollback", self._rolled_back)):
            if event.contains(cls, name, fn):
                event.remove(cls, name, fn)

    def _flushed(self, session: Session, _context: Any) -> None:
        made: set[int]
        changed: set[int]
        made, changed = session.info.setdefault(PENDING, (set(), set()))
        for obj in session.new:
            if isinstance(obj, Customer):
                made.add(obj.id)
            elif isinstance(obj, CustomerPhone | CustomerEmail) and obj.customer_id is not None:
                changed.add(obj.customer_id)
        for obj in session.dirty:
            if isinstance(obj, Customer) and session.is_modified(obj):
                changed.add(obj.id)
            elif isinstance(obj, CustomerPhone | CustomerEmail) and session.is_modified(obj) and obj.customer_id:
                changed.add(obj.customer_id)
        for obj in session.deleted:
            if isinstance(obj, CustomerPhone | CustomerEmail) and obj.customer_id is not None:
                changed.add(obj.customer_id)

    def _rolled_back(self, session: Session, _previous: Any) -> None:
        session.info.pop(PENDING, None)

    def _committed(self, session: Session) -> None:
        pending = session.info.pop(PENDING, None)
        if not pending:
            return
        made, changed = pending
        events: list[DomainEvent] = [CustomerCreated(i) for i in sorted(made)]
        events += [CustomerUpdated(i) for i in sorted(changed - made)]
        if not events:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a sync session outside the loop (a migration): nobody listens
            return
        task = loop.create_task(self._publish(events))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def settled(self) -> None:
        """Wait until what committed transactions noted is on the bus (tests, shutdown)."""
        while self._publishing:
            await asyncio.gather(*self._publishing, return_exceptions=True)

    async def _publish(self, events: list[DomainEvent]) -> None:
        for item in events:
            await self.bus.publish(item)
