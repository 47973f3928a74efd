"""Wiring of the email channel: one ingest per mailbox, the email outbox worker, the desks.

``plugin(services)`` is the aiohttp cleanup-ctx registered in ``config.app``;
``EmailChannel`` is usable without the web app (the demo, the benchmark, tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from channels.customer_requests import CustomerRequests
from channels.customer_sign_in import CustomerSignIn
from channels.imap import ImapIngest
from channels.ingest import FetchedMail, MailImporter
from channels.mail_batch import IngestResult
from channels.outbox import OutboxWorker
from channels.outgoing import MailServices
from channels.parsing import MailParser
from channels.quarantine import QuarantineDesk
from channels.rating_links import RatingLinks
from channels.rating_requests import RatingRequests
from channels.replies import ReplyDesk
from channels.settings import MailboxSettings, SmtpSettings
from channels.smtp import CORRESPONDENCE_KINDS, SmtpDelivery
from channels.web_requests import WebRequestDesk
from core.errors import NotFound
from core.records import EntryKind, OutboxMessage
from core.services import CoreServices
from core.supervisor import Backoff, SupervisedTask
from knowledge.suggestions import TemplateLibrary
from routing.desk import TicketDesk

log = logging.getLogger(__name__)


class EmailSettings(Protocol):
    """What the email channel reads of the server's settings."""

    @property
    def smtp(self) -> SmtpSettings: ...
    @property
    def mailboxes(self) -> list[MailboxSettings]: ...


class EmailServices(CoreServices, Protocol):
    """What the email channel is built from (the composition root's container satisfies it)."""

    @property
    def settings(self) -> EmailSettings: ...
    @property
    def desk(self) -> TicketDesk: ...
    @property
    def templates(self) -> TemplateLibrary: ...


class EmailChannel:
    """Everything the email channel runs, built from the services."""

    def __init__(self, services: EmailServices) -> None:
        self.services = services
        settings = services.settings
        self.delivery = SmtpDelivery(settings.smtp, settings.mailboxes, services.clock, services.db)
        self.outbox = OutboxWorker(
            services.db,
            "email",
            self.delivery,
            services.clock,
            on_failed=self._delivery_failed,
            on_sent=self._delivered,
            after_commit=services.desk.publish_pending,  # the results' timeline entries, live
        )
        deps = MailServices(
            services.db, services.desk, services.templates, services.clock, settings.smtp, self.outbox.wake,
            services.renderer,
        )
        self.parser = MailParser(processes=1)
        self.importers = {m.name: MailImporter(deps, m, self.parser) for m in settings.mailboxes}
        self.ingests = {name: ImapIngest(imp, imp.mailbox) for name, imp in self.importers.items()}
        self.replies = ReplyDesk(deps)
        # The help centre's request form: acknowledged as the first mailbox acknowledges mail.
        self.web_requests = WebRequestDesk(deps, next(iter(self.importers.values()), None))
        self.customer_sign_in = CustomerSignIn(deps)  # the help centre's "my requests"
        self.customer_requests = CustomerRequests(deps)
        self.quarantine = QuarantineDesk(services.db, services.desk, self.importers)
        self.tasks: list[SupervisedTask] = []
        self._deps = deps
        self.rating_requests: RatingRequests | None = None

    def ask_for_ratings(self, links: RatingLinks, base_url: str) -> RatingRequests:
        """From now on a solved ticket's customer is mailed the rating links (signed by ``links``,
        the ones the help centre checks). Undone by ``stop``."""
        if self.rating_requests is None:
            settings = self.services.settings
            own = frozenset({settings.smtp.from_address, *(m.address for m in settings.mailboxes)} - {""})
            self.rating_requests = RatingRequests(self._deps, links, base_url, own)
            self.services.desk.hooks.append(self.rating_requests)
        return self.rating_requests

    def start(self, ingest: bool = True, outbox: bool = True) -> None:
        health = self.services.health
        if ingest:
            if any(m.fetch for m in self.services.settings.mailboxes):
                self.parser.start()
            for name, imap in self.ingests.items():
                if not imap.mailbox.fetch:
                    continue
                resource = f"mailbox:{name}"  # one reader across instances, with fail-over
                body = self.services.ownership.owned(resource, imap.run)
                self.tasks.append(SupervisedTask(resource, body, health, Backoff(1.0, 60.0)))
        if outbox:
            # Reported on /readyz, but not required: readiness is the database and the links.
            self.tasks.append(
                SupervisedTask("outbox:email", self.outbox.run, health, Backoff(1.0, 60.0), required=False)
            )
        for task in self.tasks:
            task.start()

    async def stop(self) -> None:
        if self.rating_requests is not None and self.rating_requests in self.services.desk.hooks:
            self.services.desk.hooks.remove(self.rating_requests)
        for task in self.tasks:
            await task.stop()
        self.tasks.clear()
        for name in self.ingests:
            await self.services.ownership.release(f"mailbox:{name}")  # another instance reads it now
        await asyncio.to_thread(self.parser.close)

    async def ingest_raw(self, mailbox_name: str, raw: bytes) -> IngestResult:
        """Run the ingest pipeline on a raw message that did not come over IMAP (demo, tools)."""
        importer = self.importers.get(mailbox_name)
        if importer is None:
            raise NotFound("no such mailbox", {"mailbox": mailbox_name})
        [result] = await importer.ingest(None, [FetchedMail(None, raw)])
        return result

    async def _delivered(self, session: AsyncSession, row: OutboxMessage) -> None:
        """A staff notification (an SLA alert) shows its delivery on the ticket; customer
        mail needs nothing more, its own timeline entry is already there."""
        if (row.payload or {}).get("kind") in CORRESPONDENCE_KINDS:
            return
        payload = {
            "event": "delivered",
            "message": f"Email alert delivered to {row.recipient}",
            "channel": "email",
            "to": row.recipient,
            "attempts": row.attempts,
        }
        await self._on_ticket(session, row, payload, f"outbox:{row.id}")

    async def _delivery_failed(self, session: AsyncSession, row: OutboxMessage) -> None:
        """A permanent failure shows on the ticket, where the agent who sent it looks."""
        payload = {
            "event": "email-delivery-failed",
            "outbox_id": row.id,
            "recipient": row.recipient,
            "subject": row.subject,
            "error": row.last_error,
        }
        await self._on_ticket(session, row, payload, f"delivery-failed:{row.id}")

    async def _on_ticket(self, session: AsyncSession, row: OutboxMessage, payload: dict[str, Any], key: str) -> None:
        if row.ticket_id is not None:
            await self.services.desk.append(session, row.ticket_id, EntryKind.ALERT, payload, dedup_key=key, flush=False)

EMAIL_CHANNEL: web.AppKey[EmailChannel] = web.AppKey("email_channel", EmailChannel)


async def ingest_raw(services: EmailServices, mailbox_name: str, raw: bytes) -> IngestResult:
    """For the demo: put one sample mail through the same pipeline as fetched mail."""
    return await EmailChannel(services).ingest_raw(mailbox_name, raw)


def plugin(services: EmailServices) -> Callable[[web.Application], AsyncIterator[None]]:
    async def email_channel(app: web.Application) -> AsyncIterator[None]:
        channel = EmailChannel(services)
        app[EMAIL_CHANNEL] = channel
        channel.start()
        try:
            yield
        finally:
            await channel.stop()

    return email_channel
