"""What routing needs of a customer's tickets: the latest open one and the last active agent.

One indexed read per contact; or, for a channel importing a batch, one read for all of the
batch's customers (``prefetch``). After a prefetch the session remembers the answers and the
tickets opened since (``opened``), so a second mail from one customer in a batch joins the
ticket the first one opened, exactly as if they had come one by one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.records import OPEN_STATUSES, Ticket, User

DEPTH = 50  # tickets looked at per customer for an open ticket and the last agent
_MEMO = "routing.customer_tickets"


@dataclasses.dataclass(slots=True)
class CustomerTickets:
    open_ticket: Ticket | tuple[int, str] | None = None  # a Ticket when prefetched or opened in this session
    last_agent: int | None = None

    def add(self, ticket_id: int, queue: str, status: str, assignee_id: int | None, active: bool | None) -> bool:
        """Take the next ticket, newest first; True once both answers are known."""
        if self.open_ticket is None and status in OPEN_STATUSES:
            self.open_ticket = (ticket_id, queue)
        if self.last_agent is None and assignee_id is not None and active:
            self.last_agent = assignee_id
        return self.open_ticket is not None and self.last_agent is not None


def _memo(session: AsyncSession) -> dict[int, CustomerTickets] | None:
    memo: dict[int, CustomerTickets] | None = session.info.get(_MEMO)
    return memo


async def customer_tickets(session: AsyncSession, customer_id: int) -> tuple[tuple[int, str] | None, int | None]:
    """The customer's latest open ticket (id, queue) and last active agent."""
    memo = _memo(session)
    known = memo.get(customer_id) if memo is not None else None
    if known is None:
        known = await _read(session, customer_id)
    open_ticket = known.open_ticket
    if isinstance(open_ticket, Ticket):
        open_ticket = (await ticket_id_of(session, open_ticket), open_ticket.queue)
    return open_ticket, known.last_agent


async def ticket_id_of(session: AsyncSession, ticket: Ticket | int) -> int:
    """The id of a ticket a batch may have opened without writing it yet (written now if so)."""
    if isinstance(ticket, int):
        return ticket
    if ticket.id is None:
        await session.flush()
    return ticket.id


async def _read(session: AsyncSession, customer_id: int) -> CustomerTickets:
    known = CustomerTickets()
    stmt = (
        select(Ticket.id, Ticket.queue, Ticket.status, Ticket.assignee_id, User.active)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(DEPTH)
    )
    for row in await session.execute(stmt):
        if known.add(*row):
            break
    return known


async def prefetch(session: AsyncSession, customer_ids: Collection[int]) -> None:
    """Read the answers for many customers at once, and load their open tickets into the session."""
    memo = session.info.setdefault(_MEMO, {})
    wanted = [c for c in set(customer_ids) if c not in memo]
    if not wanted:
        return
    ranked = (
        select(
            Ticket.customer_id,
            Ticket.id,
            Ticket.queue,
            Ticket.status,
            Ticket.assignee_id,
            User.active,
            func.row_number()
            .over(partition_by=Ticket.customer_id, order_by=(Ticket.updated_at.desc(), Ticket.id.desc()))
            .label("rank"),
        )
        .outerjoin(User, User.id == Ticket.assignee_id)
        .where(Ticket.customer_id.in_(wanted))
        .subquery()
    )
    stmt = select(ranked).where(ranked.c.rank <= DEPTH).order_by(ranked.c.customer_id, ranked.c.rank)
    found = {c: CustomerTickets() for c in wanted}
    for customer_id, ticket_id, queue, status, assignee_id, active, _rank in await session.execute(stmt):
        found[customer_id].add(ticket_id, queue, status, assignee_id, active)
    open_ids = [k.open_ticket[0] for k in found.values() if isinstance(k.open_ticket, tuple)]
    if open_ids:  # the tickets these contacts will join, held here (the identity map holds them weakly)
        for ticket in (await session.scalars(select(Ticket).where(Ticket.id.in_(open_ids)))).unique():
            if ticket.customer_id is not None:
                found[ticket.customer_id].open_ticket = ticket
    memo.update(found)


def opened(session: AsyncSession, ticket: Ticket) -> None:
    """A ticket was opened in this session: after a prefetch, it is its customer's open ticket now."""
    memo = _memo(session)
    customer_id = ticket.customer.id if ticket.customer is not None else ticket.customer_id
    if memo is None or customer_id is None:
        return
    known = memo.setdefault(customer_id, CustomerTickets())
    known.open_ticket = ticket
    assignee_id = ticket.assignee.id if ticket.assignee is not None else ticket.assignee_id
    if assignee_id is not None:
        known.last_agent = assignee_id
