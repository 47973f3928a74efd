"""One batch of fetched mail: what its messages share while they are imported, and what
comes out of it.

A ``BatchContext`` reads up front, in a few queries, what each message would otherwise ask
for on its own (known Message-IDs and hashes, the tickets replies join, the senders as
customers, the day's acknowledgements per sender), remembers the batch's own mail so a reply
and its original in one batch meet on one ticket, and writes the batch's rows together at
the end (``finish``). ``channels.ingest.MailImporter`` runs the batch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from channels.mime import ParsedMail
from channels.outgoing import ticket_number_in
from channels.records import MailMessage, MailReference
from channels.settings import MailboxSettings
from core.clock import Clock
from core.records import (
    AuditLog,
    Customer,
    CustomerEmail,
    OutboxMessage,
    Ticket,
    Tier,
    ticket_id_of_number,
)
from routing import ticket_id_of
from routing.desk import TicketDesk
from routing.merging import survivor

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class IngestResult:
    uid: int | None
    outcome: str  # imported | duplicate | quarantined
    ticket_id: int | None = None
    entry_id: int | None = None
    message_row_id: int | None = None
    quarantine_id: int | None = None
    acknowledged: bool = False


@dataclasses.dataclass(slots=True)
class Acknowledgement:
    """A new ticket to acknowledge, and with what: ``template`` is the reply template a routing
    rule named (rendered in the customer's language), None for the mailbox's own texts."""

    ticket: Ticket
    customer: Customer
    mail: ParsedMail
    template: str | None = None


# What writes a batch's acknowledgements: the outbox rows and message records for these new
# tickets (``MailImporter.acknowledgements``).
Acknowledger = Callable[[AsyncSession, Sequence[Acknowledgement]], Awaitable[list[Any]]]


class BatchContext:
    """What a batch needs to know, read in a few queries up front instead of several per mail.

    It also remembers the batch's own mail, so a reply and its original in one batch
    (in either order) meet on one ticket, and a mail twice in a batch counts once.
    """

    def __init__(self, desk: TicketDesk, mailbox: MailboxSettings, clock: Clock, acknowledge: Acknowledger) -> None:
        self.desk = desk
        self.mailbox = mailbox
        self.clock = clock
        self.acknowledge = acknowledge
        self.known_ids: set[str] = set()
        self.known_hashes: set[str] = set()
        # Message-ID -> ticket, for mail we hold; a Ticket opened in this batch has no id until written.
        self.ticket_of: dict[str, int | Ticket] = {}
        self.replied_by: dict[str, int | Ticket] = {}  # a Message-ID we have not seen -> ticket of a reply to it
        self.customers: dict[str, Customer] = {}
        self.auto_replies: Counter[str] = Counter()
        self.pending: list[Any] = []
        self.acknowledgements: list[Acknowledgement] = []
        self.results: list[tuple[IngestResult, MailMessage]] = []
        self.tickets: list[Ticket] = []
        self._loaded: dict[int, Ticket] = {}  # the tickets replies join, by id, as loaded for this batch
        self.opened: set[int] = set()  # id() of the tickets this batch opened (never merged yet)

    async def load(self, session: AsyncSession, mails: Sequence[ParsedMail]) -> None:
        ids = {p.message_id for p in mails if p.message_id}
        hashes = {p.content_hash for p in mails}
        refs = {r for p in mails for r in p.thread_refs}
        if ids or hashes:
            known = select(MailMessage.message_id, MailMessage.content_hash).where(
                MailMessage.message_id.in_(ids) | MailMessage.content_hash.in_(hashes)
            )
            for mid, digest in (await session.execute(known)).all():
                if mid:
                    self.known_ids.add(mid)
                if digest:
                    self.known_hashes.add(digest)
        if refs:
            threads = select(MailMessage.message_id, MailMessage.ticket_id).where(
                MailMessage.message_id.in_(refs), MailMessage.ticket_id.is_not(None)
            )
            self.ticket_of.update({mid: tid for mid, tid in (await session.execute(threads)).all() if mid and tid})
        if ids:
            replies = (
                select(MailReference.ref, MailMessage.ticket_id)
                .join(MailMessage, MailReference.message_row_id == MailMessage.id)
                .where(MailReference.ref.in_(ids), MailMessage.ticket_id.is_not(None))
                .order_by(MailMessage.id.desc())
            )
            self.replied_by.update({ref: tid for ref, tid in (await session.execute(replies)).all() if tid})
        await self._load_customers(session, {p.sender: p.sender_name for p in mails})
        await self.desk.prefetch(session, [c.id for c in self.customers.values()])
        joined = {t for t in (*self.ticket_of.values(), *self.replied_by.values()) if isinstance(t, int)}
        if joined:  # the tickets replies join, held here (the identity map holds them weakly)
            self.tickets = list((await session.scalars(select(Ticket).where(Ticket.id.in_(joined)))).unique())
            self._loaded = {t.id: t for t in self.tickets}
        if self.mailbox.acknowledge:
            since = self.clock.now() - timedelta(hours=24)
            counts = (
                select(OutboxMessage.recipient, func.count())
                .where(
                    OutboxMessage.recipient.in_(list(self.customers)),
                    OutboxMessage.dedup_key.like("ack:%"),
                    OutboxMessage.created_at >= since,
                )
                .group_by(OutboxMessage.recipient)
            )
            self.auto_replies.update({r: n for r, n in (await session.execute(counts)).all()})

    async def _load_customers(self, session: AsyncSession, senders: dict[str, str]) -> None:
        """Known customers by address; the others created together, tier "new", audited as the system."""
        known = select(CustomerEmail.address, Customer).join(Customer, Customer.id == CustomerEmail.customer_id).where(
            CustomerEmail.address.in_(list(senders))
        )
        self.customers.update({address: customer for address, customer in (await session.execute(known)).all()})
        new = {
            address: Customer(name=(name or address.split("@", 1)[0])[:200], tier=Tier.NEW.value, tags=[], notes="")
            for address, name in senders.items()
            if address not in self.customers
        }
        if not new:
            return
        for customer in new.values():  # nothing to load later in this batch
            set_committed_value(customer, "phones", [])
            set_committed_value(customer, "emails", [])
        session.add_all(new.values())
        await session.flush()
        self.customers.update(new)
        now = self.clock.now()
        await session.execute(insert(CustomerEmail), [{"customer_id": c.id, "address": a} for a, c in new.items()])
        await session.execute(
            insert(AuditLog),
            [
                {
                    "actor_id": None,
                    "action": "customer.create",
                    "entity": "customer",
                    "entity_id": str(c.id),
                    "before": None,
                    "after": {"id": c.id, "name": c.name, "tier": c.tier, "emails": [a], "source": "email"},
                    "at": now,
                }
                for a, c in new.items()
            ],
        )

    def is_duplicate(self, p: ParsedMail) -> bool:
        return (p.message_id is not None and p.message_id in self.known_ids) or p.content_hash in self.known_hashes

    async def thread(self, session: AsyncSession, p: ParsedMail) -> tuple[int | None, str | None]:
        """The ticket this mail belongs to, and how we know: references, a reply that came first, the
        tag; a ticket since merged into another stands for the one it was merged into.

        A ticket this batch opened, or one it loaded that was not merged, stands for itself:
        no query. (Each such query flushed the batch's pending rows first: a round trip or
        several per reply, the most of what one mailbox's import waited on.)"""
        ticket, how = self._threaded_ticket(p)
        if ticket is None:
            ticket_id, how = await self._thread_by_tag(session, p)
        else:
            ticket_id = await ticket_id_of(session, ticket)
            if isinstance(ticket, Ticket) and self._stands_for_itself(ticket):
                return ticket_id, how
        if ticket_id is not None:
            loaded = self._loaded.get(ticket_id)
            if loaded is None or not self._stands_for_itself(loaded):
                ticket_id = await survivor(session, ticket_id)
        return ticket_id, how

    def _stands_for_itself(self, ticket: Ticket) -> bool:
        """Opened by this batch, or loaded by it and not merged (read without a query)."""
        if id(ticket) in self.opened:
            return True
        known = inspect(ticket).dict
        return "merged_into_id" in known and known["merged_into_id"] is None

    def _threaded_ticket(self, p: ParsedMail) -> tuple[int | Ticket | None, str | None]:
        for ref in p.thread_refs:  # nearest first: In-Reply-To, then References from the end
            if ref in self.ticket_of:
                return self.ticket_of[ref], "references"
        if p.message_id and p.message_id in self.replied_by:
            return self.replied_by[p.message_id], "reply-arrived-first"
        return None, None

    async def _thread_by_tag(self, session: AsyncSession, p: ParsedMail) -> tuple[int | None, str | None]:
        for number in ticket_number_in(p.subject):
            ticket_id = ticket_id_of_number(number)
            if ticket_id is not None and await session.get(Ticket, ticket_id) is not None:
                return ticket_id, "subject-tag"
        return None, None

    def imported(self, record: MailMessage, p: ParsedMail, result: IngestResult) -> None:
        self.pending.append(record)
        self.results.append((result, record))
        self.known_hashes.add(p.content_hash)
        ticket = record.ticket
        if p.message_id:
            self.known_ids.add(p.message_id)
            if ticket is not None:
                self.ticket_of[p.message_id] = ticket
        for ref in p.thread_refs:
            if ticket is not None and ref not in self.ticket_of:
                self.replied_by.setdefault(ref, ticket)

    def may_auto_reply(self, sender: str) -> bool:
        if self.auto_replies[sender] >= self.mailbox.auto_replies_per_day:
            log.info("mailbox %s: no acknowledgement to %s (cap reached)", self.mailbox.name, sender)
            return False
        self.auto_replies[sender] += 1
        return True

    async def finish(self, session: AsyncSession) -> None:
        """Write the batch's rows together: tickets, entries, messages (one INSERT per table),
        then the acknowledgements, which name the new tickets' numbers."""
        session.add_all(self.pending)
        self.pending = []
        await session.flush()
        for result, record in self.results:
            result.ticket_id, result.entry_id, result.message_row_id = record.ticket_id, record.entry_id, record.id
        self.results = []
        if self.acknowledgements:
            session.add_all(await self.acknowledge(session, self.acknowledgements))
            self.acknowledgements = []
            await session.flush()
