"""Delivering email outbox rows over SMTP, and keeping a copy in the Sent folder.

Every email row is delivered here: replies and acknowledgements (with threading
headers in ``row.headers``) and the SLA helper's alert emails (with none). SMTP 4xx
answers and lost connections are temporary (the outbox retries with backoff); 5xx
answers and header-injection attempts are permanent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import aiosmtplib
from aiosmtplib.errors import SMTPRecipientsRefused, SMTPResponseException

from channels.addresses import has_line_separator, is_addr_spec
from channels.imap import connect, tls_context
from channels.outbox import PermanentFailure, TemporaryFailure
from channels.outgoing import domain_of
from channels.reply_attachments import OutgoingFile, files_of_message
from channels.reply_formatting import as_email_html
from channels.settings import MailboxSettings, SmtpSettings
from core.clock import Clock
from core.db import Database
from core.records import OutboxMessage

log = logging.getLogger(__name__)

# Headers a row may carry; anything else in ``headers`` is ignored rather than sent.
_ALLOWED_HEADERS = ("Message-ID", "In-Reply-To", "References", "Auto-Submitted", "X-Loop", "Reply-To",
                    "X-Auto-Response-Suppress", "Cc")


def copies_of(row: OutboxMessage) -> tuple[list[str], list[str]]:
    """The row's Cc (a header) and Bcc (the envelope only) addresses."""
    cc = [a.strip() for a in str((row.headers or {}).get("Cc") or "").split(",") if a.strip()]
    bcc = [str(a).strip() for a in (row.payload or {}).get("bcc") or [] if str(a).strip()]
    return cc, bcc


def envelope_recipients(row: OutboxMessage) -> list[str]:
    """Everyone the SMTP server is asked to deliver to: To, Cc and Bcc (Bcc is in no header)."""
    cc, bcc = copies_of(row)
    return list(dict.fromkeys([row.recipient.strip(), *cc, *bcc]))


def build_message(row: OutboxMessage, smtp: SmtpSettings, clock: Clock,
                  attachments: Sequence[OutgoingFile] = ()) -> EmailMessage:
    """The MIME message for an outbox row: plain text, or plain text with its HTML alternative
    (``payload["html"]``, sanitised when the reply was composed), then the attachments.

    PermanentFailure when a header carries any line separator or an address (To, Cc, Bcc) is
    not one plain address: the last gate, for rows written by any service (replies,
    acknowledgements, alerts).
    """
    values = {"To": row.recipient, "Subject": row.subject}
    for name in _ALLOWED_HEADERS:
        value = (row.headers or {}).get(name)
        if value:
            values[name] = str(value)
    for name, value in values.items():
        if has_line_separator(value):
            raise PermanentFailure(f"line break in the {name} header refused")
    if not is_addr_spec(row.recipient.strip()):
        raise PermanentFailure("the recipient is not exactly one email address")
    if not all(is_addr_spec(a) for group in copies_of(row) for a in group):
        raise PermanentFailure("a Cc or Bcc address is not exactly one email address")
    msg = EmailMessage()
    msg["From"] = formataddr((smtp.from_name, smtp.from_address))
    msg["Date"] = format_datetime(clock.now())
    if "Message-ID" not in values:
        values["Message-ID"] = make_msgid(domain=smtp.message_id_domain or domain_of(smtp.from_address))
    values.setdefault("X-Loop", smtp.from_address)
    for name, value in values.items():
        msg[name] = value
    msg.set_content(row.body or "", charset="utf-8")
    html = (row.payload or {}).get("html")
    if html:
        msg.add_alternative(as_email_html(str(html)), subtype="html", charset="utf-8")
    for file in attachments:
        maintype, _, subtype = file.content_type.partition("/")
        msg.add_attachment(file.data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=file.filename)
    return msg


def classify(exc: Exception) -> Exception:
    """SMTP 5xx → permanent, everything else (4xx, timeouts, refused connections) → temporary."""
    if isinstance(exc, SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return PermanentFailure(text) if codes and all(500 <= c < 600 for c in codes) else TemporaryFailure(text)
    if isinstance(exc, SMTPResponseException):
        text = f"{exc.code} {exc.message}"
        return PermanentFailure(text) if 500 <= exc.code < 600 else TemporaryFailure(text)
    return TemporaryFailure(f"{type(exc).__name__}: {exc}")


# Outbox email kinds that belong to a customer conversation.
CORRESPONDENCE_KINDS = frozenset({"reply", "acknowledgement", "rating-request"})


class SmtpDelivery:
    """The outbox's ``deliver`` for the email channel."""

    def __init__(self, smtp: SmtpSettings, mailboxes: list[MailboxSettings], clock: Clock,
                 db: Database | None = None) -> None:
        self.smtp = smtp
        self.db = db  # where a reply's attachments are read from
        self.mailboxes = {m.name: m for m in mailboxes}
        self.default_mailbox = mailboxes[0] if mailboxes else None
        self.clock = clock

    async def __call__(self, row: OutboxMessage) -> None:
        msg = build_message(row, self.smtp, self.clock, await self._attachments(row))
        s = self.smtp
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                use_tls=s.security == "tls",
                start_tls=True if s.security == "starttls" else False,
                tls_context=tls_context(s.ca_file) if s.security != "plain" else None,
                timeout=s.timeout,
                recipients=envelope_recipients(row),
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
        await self.keep_sent_copy(row, msg)

    async def _attachments(self, row: OutboxMessage) -> list[OutgoingFile]:
        """The files stored with the reply (none for mail that had none, or without a database)."""
        message_id = (row.headers or {}).get("Message-ID")
        if not (row.payload or {}).get("attachments") or self.db is None or not message_id:
            return []
        async with self.db.session() as session:
            files = await files_of_message(session, str(message_id))
        if len(files) != int((row.payload or {})["attachments"]):
            raise TemporaryFailure("the reply's attachments are not all stored yet")
        return files

    async def keep_sent_copy(self, row: OutboxMessage, msg: EmailMessage) -> None:
        """Append customer correspondence to the mailbox's Sent folder.

        Staff notifications (SLA alerts) are not correspondence and stay out of it. The
        mail is already sent, so failures here only log.
        """
        if (row.payload or {}).get("kind") not in CORRESPONDENCE_KINDS:
            return
        name = (row.payload or {}).get("mailbox")
        mailbox = self.mailboxes.get(name) if name else self.default_mailbox
        if mailbox is None or not mailbox.sent_folder:
            return
        try:
            client = await connect(mailbox)
            try:
                await client.append(msg.as_bytes(), mailbox=mailbox.sent_folder, flags="(\\Seen)", date=time.time())
            finally:
                await client.logout()
        except Exception as exc:
            log.warning("outbox email %s: sent, but no copy in %s/%s: %s", row.id, mailbox.name, mailbox.sent_folder, exc)
