"""A local SMTP server for the demo and the tests: accepts mail on loopback, keeps it,
and optionally delivers it into the recipient's IMAP mailbox (by APPEND), so a reply
can be seen arriving where the customer reads mail.

Uses aiosmtpd (installed with the test extras, which ``make demo`` installs too).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from email import message_from_bytes, policy
from typing import Any

from channels.imap import connect
from channels.settings import MailboxSettings

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class SunkMail:
    sender: str
    recipients: list[str]
    data: bytes


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        answer = self.sink.answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        mail = SunkMail(envelope.mail_from, list(envelope.rcpt_tos), bytes(data))
        self.sink.messages.append(mail)
        head = message_from_bytes(mail.data, policy=policy.default)
        log.info(
            "mail sink: to %s, subject %r, Message-ID %s, In-Reply-To %s",
            ", ".join(mail.recipients), str(head.get("Subject", "")), head.get("Message-ID"), head.get("In-Reply-To"),
        )
        for rcpt in mail.recipients:
            mailbox = self.sink.imap_users.get(rcpt.lower())
            if mailbox is not None:
                await self.sink.deliver(mailbox, mail.data)
        self.sink.arrived.set()
        return "250 Message accepted for delivery"


class MailSink:
    """``await MailSink().start()``; ``answers`` maps a recipient to a forced reply ("550 ...")."""

    def __init__(self, imap_users: dict[str, MailboxSettings] | None = None) -> None:
        self.messages: list[SunkMail] = []
        self.imap_users = {k.lower(): v for k, v in (imap_users or {}).items()}
        self.answers: dict[str, str] = {}
        self.arrived = asyncio.Event()
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, starttls: ssl.SSLContext | None = None) -> MailSink:
        """``starttls``: the server's context; STARTTLS is then required before any mail."""
        from aiosmtpd.smtp import SMTP

        handler = _Handler(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.local", tls_context=starttls, require_starttls=starttls is not None),
            host,
            port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def deliver(self, mailbox: MailboxSettings, data: bytes) -> None:
        client = await connect(mailbox)
        try:
            await client.append(data, mailbox=mailbox.folder)
        finally:
            await client.logout()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
