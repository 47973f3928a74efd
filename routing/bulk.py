"""Bulk edits from the queue: the same actions on many tickets in one request.

Each ticket is changed in its own transaction through ``routing.ticket_actions`` — the desk
operations a single edit uses, so each change is checked, audited and on the timeline — and
a ticket that cannot be changed (not found, not allowed, a bad value) is reported by id
while the others go ahead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.errors import FrontdeskError, InvalidInput
from core.records import Role
from routing import ticket_actions
from routing.desk import TicketDesk
from routing.ticket_actions import TicketActions

MAX_BULK_TICKETS = 500


@dataclasses.dataclass(frozen=True, slots=True)
class BulkOutcome:
    """One ticket's result: what changed, or why it did not."""

    ticket_id: int
    changes: list[dict[str, Any]]
    error: str | None = None
    error_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id, "ok": self.ok, "changes": self.changes, "error": self.error,
                "error_id": self.error_id}


def read_ticket_ids(value: Any) -> list[int]:
    """The tickets to change, as ids; refused by name when not a list of numbers or too many."""
    items = value if isinstance(value, list | tuple) else None
    if not items:
        raise InvalidInput("choose one or more tickets", {"field": "ticket_ids"})
    try:
        ids = list(dict.fromkeys(int(str(i)) for i in items if not isinstance(i, bool)))
    except ValueError:
        raise InvalidInput("ticket_ids must be ticket ids", {"field": "ticket_ids"}) from None
    if len(ids) > MAX_BULK_TICKETS:
        raise InvalidInput("at most 500 tickets at once", {"field": "ticket_ids", "max": MAX_BULK_TICKETS})
    return ids


async def bulk_apply(desk: TicketDesk, sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
                     actor: Actor, ticket_ids: Sequence[int], actions: TicketActions) -> list[BulkOutcome]:
    """Apply ``actions`` to each ticket, one transaction per ticket; every ticket's outcome."""
    actor.require(Role.AGENT, Role.OPS)
    if actions.is_empty():
        raise InvalidInput("choose something to change", {"field": "actions"})
    outcomes: list[BulkOutcome] = []
    for ticket_id in ticket_ids:
        async with sessions() as session:
            try:
                changes = await ticket_actions.apply(desk, session, actor, ticket_id, actions)
                await desk.commit_and_publish(session)
            except FrontdeskError as exc:
                await session.rollback()
                session.info.pop("frontdesk_events", None)
                outcomes.append(BulkOutcome(ticket_id, [], exc.message, exc.error_id))
                continue
        outcomes.append(BulkOutcome(ticket_id, changes))
    return outcomes


__all__ = ["MAX_BULK_TICKETS", "BulkOutcome", "bulk_apply", "read_ticket_ids"]
