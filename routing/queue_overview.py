"""The queues as ops see them on the setup page: which channel feeds each (from the settings)
and how much open work waits in it, read-only."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.records import OPEN_STATUSES, Role, Ticket


@dataclasses.dataclass(frozen=True, slots=True)
class QueueLine:
    name: str
    channels: list[str]  # the channels whose contacts land here by default
    open_tickets: int
    unassigned: int


async def queue_overview(session: AsyncSession, actor: Actor, channel_queues: Mapping[str, str]) -> list[QueueLine]:
    """Every configured queue and every queue holding open tickets, with its open work."""
    actor.require(Role.OPS, Role.SUPERVISOR)
    rows = (await session.execute(
        select(Ticket.queue, func.count(), func.count().filter(Ticket.assignee_id.is_(None)))
        .where(Ticket.status.in_([s.value for s in OPEN_STATUSES])).group_by(Ticket.queue))).all()
    counts = {queue: (int(total), int(unassigned)) for queue, total, unassigned in rows}
    names = sorted({*channel_queues.values(), *counts})
    return [QueueLine(name, sorted(c for c, q in channel_queues.items() if q == name), *counts.get(name, (0, 0)))
            for name in names]
