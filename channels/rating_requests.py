"""When a ticket is solved, the customer is asked by mail how we did: two one-click links,
"good" and "bad" (signed by ``channels.rating_links``), each landing on the help centre's
rating page, which records the rating and offers a comment box.

A ticket hook, so the mail is queued in the transaction that solves the ticket, through the
outbox like every reply (threaded on the customer's last mail, from its mailbox, a copy in
its Sent folder). It goes once per ticket (the outbox row's unique key), in the customer's
language, and never where the acknowledgement's loop guards would not answer either: no
customer address, a ticket whose last mail was automatic (an auto-reply, a bounce, a
loop), one of our own addresses, or a ticket already rated.
"""

from __future__ import annotations

import logging

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.base.i18n import guess_language, translate
from channels.outgoing import MailServices, compose_outgoing
from channels.rating_links import LINK_DAYS, RatingLinks
from channels.records import MailMessage
from core.errors import InvalidInput
from core.records import Customer, EntryKind, OutboxMessage, Ticket, TicketStatus, TimelineEntry
from routing.desk import TicketChange
from routing.ratings import rating_of

log = logging.getLogger(__name__)



def request_key(ticket_id: int) -> str:
    return f"rating-request:{ticket_id}"


class RatingRequests:
    """The ticket hook that mails the rating links when a ticket becomes solved."""

    def __init__(self, deps: MailServices, links: RatingLinks, base_url: str, own_addresses: frozenset[str]) -> None:
        self.clock = deps.clock
        self.domain = deps.domain
        self.links = links
        self.base_url = base_url.rstrip("/")
        self.own = frozenset(a.lower() for a in own_addresses)
        self.on_outbox = deps.on_outbox
        self.queued = 0

    async def ticket_changed(self, session: AsyncSession, ticket: Ticket, change: TicketChange) -> None:
        if change.kind != "status" or ticket.status != TicketStatus.SOLVED.value:
            return
        if change.before.get("status") in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value):
            return
        try:
            await self.request(session, ticket)
        except InvalidInput as exc:  # an address we cannot write to: the ticket is solved all the same
            log.info("ticket %s: no rating request (%s)", ticket.id, exc)

    async def request(self, session: AsyncSession, ticket: Ticket) -> OutboxMessage | None:
        """Queue the rating request for ``ticket`` in the caller's transaction; None when it is not asked."""
        if ticket.customer_id is None or ticket.merged_into_id is not None:
            return None
        customer = await session.get(Customer, ticket.customer_id)
        if customer is None or await rating_of(session, ticket.id) is not None:
            return None
        key = request_key(ticket.id)
        if await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)) is not None:
            return None  # asked before (solved, reopened, solved again): once is enough
        original = (await session.scalars(select(MailMessage).where(
            MailMessage.ticket_id == ticket.id, MailMessage.direction == "in").order_by(MailMessage.id.desc()).limit(1))).first()
        if await self._last_mail_automatic(session, ticket.id):
            return None
        address = (original.sender if original and original.sender else
                   customer.emails[0].address if customer.emails else "").strip()
        if not address or address.lower() in self.own:
            return None
        language = customer.language or guess_language(ticket.subject)
        now = self.clock.now()
        links = {rating: f"{self.base_url}{self.links.path(ticket.id, rating, now)}" for rating in ("good", "bad")}
        body = translate(language, "Hello %(name)s,\n\nyour request %(tag)s is solved. How did we do? One click is "
                         "enough:\n\nGood: %(good)s\n\nBad: %(bad)s\n\nThe page that opens lets you add a comment. "
                         "The links work for %(days)s days.\n", name=customer.name or address, tag=ticket.tag,
                         good=links["good"], bad=links["bad"], days=str(LINK_DAYS))
        queued = compose_outgoing(
            self.clock, ticket=ticket, recipient=address,
            subject=" ".join(translate(language, "How did we do? %(subject)s", subject=ticket.subject).split()),
            body=body, domain=self.domain, dedup_key=key,
            in_reply_to=original.message_id if original else None,
            extra_headers={"Auto-Submitted": "auto-generated", **({"X-Loop": min(self.own)} if self.own else {})},
            payload={"kind": "rating-request", "mailbox": original.mailbox if original else None},
        )
        session.add_all([queued.outbox, queued.record])
        self.queued += 1
        if self.on_outbox is not None:  # sent once the solve commits, not at the outbox's next poll
            wake = self.on_outbox
            event.listen(session.sync_session, "after_commit", lambda _session: wake(), once=True)
        return queued.outbox

    @staticmethod
    async def _last_mail_automatic(session: AsyncSession, ticket_id: int) -> bool:
        """The ticket's last incoming mail was an auto-reply, a bounce or a loop (the ingest's guard)."""
        stmt = (select(TimelineEntry.payload).where(TimelineEntry.ticket_id == ticket_id,
                                                    TimelineEntry.kind == EntryKind.EMAIL_IN.value)
                .order_by(TimelineEntry.created_at.desc(), TimelineEntry.id.desc()).limit(1))
        payload = await session.scalar(stmt)
        return bool((payload or {}).get("automatic"))
