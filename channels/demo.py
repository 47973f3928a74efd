"""The email side of ``frontdesk demo``: no IMAP server needed, replies go to a local sink.

``start_demo_mail`` starts an in-process SMTP server on loopback (aiosmtpd) that keeps
what Frontdesk sends, and returns settings whose SMTP points at it, with a send-only
"support" mailbox when none is configured. ``ingest_samples`` then puts the sample
customer mails (Chinese in GBK labelled GB2312, English, Spanish) through the same
pipeline as fetched mail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, Protocol, Self, TypeVar

from channels.mail_batch import IngestResult
from channels.plugin import EmailChannel, EmailServices
from channels.samples import demo_mails
from channels.settings import MailboxSettings, SmtpSettings
from channels.sink import MailSink

log = logging.getLogger(__name__)

DEMO_MAILBOX = "support"


class WithMail(Protocol):
    """Settings with the mail sections that can be copied with changes (the server's own)."""

    @property
    def smtp(self) -> SmtpSettings: ...
    @property
    def mailboxes(self) -> list[MailboxSettings]: ...
    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


SettingsT = TypeVar("SettingsT", bound=WithMail)


async def start_demo_mail(settings: SettingsT, stack: AsyncExitStack) -> tuple[SettingsT, MailSink]:
    sink = await MailSink().start()
    stack.push_async_callback(sink.stop)
    log.info("demo SMTP sink listening on 127.0.0.1:%d (mail is kept in memory)", sink.port)
    smtp = settings.smtp.model_copy(update={"host": "127.0.0.1", "port": sink.port, "security": "plain",
                                            "username": None, "password": None})
    mailboxes = settings.mailboxes or [
        MailboxSettings.model_validate(
            {"name": DEMO_MAILBOX, "address": smtp.from_address, "username": "demo", "password": "demo",
             "fetch": False, "sent_folder": None}
        )
    ]
    return settings.model_copy(update={"smtp": smtp, "mailboxes": mailboxes}), sink


async def ingest_samples(services: EmailServices, mailbox: str = DEMO_MAILBOX) -> list[IngestResult]:
    channel = EmailChannel(services)
    address = next((m.address for m in services.settings.mailboxes if m.name == mailbox), "support@example.com")
    return [await channel.ingest_raw(mailbox, raw) for raw in demo_mails(to=address)]
