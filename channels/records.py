"""Tables owned by the email channel (on the shared ``core.records.Base``).

The raw message and its attachments are stored in the database, not in files: they
are written in the same transaction as the ticket entry and the mailbox checkpoint,
so a crash can never leave a ticket without its message or a file without its ticket,
and a backup of the database is a backup of the mail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.clock import utcnow
from core.records import Base, Ticket, TimelineEntry


class MailboxCheckpoint(Base):
    """How far a mailbox folder has been imported: every UID <= ``last_uid`` is committed."""

    __tablename__ = "mail_checkpoints"

    mailbox: Mapped[str] = mapped_column(String(80), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailMessage(Base):
    """One email, received or sent, with what threading needs (its Message-ID, its ticket)."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_mail_messages_uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    mailbox: Mapped[str | None] = mapped_column(String(80))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(500), unique=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entries.id", ondelete="SET NULL"), index=True)
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    # Set on mail imported in a batch, so the rows are written in one flush, ids unknown until then.
    ticket: Mapped[Ticket | None] = relationship(lazy="raise")
    entry: Mapped[TimelineEntry | None] = relationship(lazy="raise")
    attachments: Mapped[list[MailAttachment]] = relationship(
        cascade="all, delete-orphan", order_by="MailAttachment.id", lazy="raise"
    )
    references: Mapped[list[MailReference]] = relationship(
        cascade="all, delete-orphan", order_by="MailReference.id", lazy="raise"
    )


class MailReference(Base):
    """A Message-ID that a message names in In-Reply-To/References.

    Kept even when the referenced message is unknown, so an original fetched after
    its reply finds the reply's ticket (the reverse lookup).
    """

    __tablename__ = "mail_references"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(500), index=True)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class MailAttachment(Base):
    __tablename__ = "mail_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_row_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    content_id: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class QuarantineStatus:
    HELD = "held"
    RELEASED = "released"


class QuarantinedMail(Base):
    """A message that could not be imported, with its error; ops can look at it and retry."""

    __tablename__ = "mail_quarantine"
    __table_args__ = (Index("ix_mail_quarantine_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(80))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=QuarantineStatus.HELD)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    message_row_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class SavedReplyDraft(Base):
    """What an agent has typed in a ticket's reply composer, kept across reloads until sent.

    One per ticket and person: two agents on one ticket each keep their own. Attachments are
    not kept (files stay in the browser until the reply is sent)."""

    __tablename__ = "reply_drafts"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id", name="uq_reply_drafts_ticket_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    to: Mapped[str] = mapped_column(String(320), default="")
    cc: Mapped[str] = mapped_column(String(4000), default="")
    bcc: Mapped[str] = mapped_column(String(4000), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    template_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerSignInLink(Base):
    """A one-time sign-in link mailed to a customer for the help centre's "my requests": only
    the token's hash is kept, it works once and for a short while."""

    __tablename__ = "customer_sign_in_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class CustomerSession(Base):
    """A customer's sign-in on the help centre: separate from staff logins (``web_sessions``), so
    a customer's cookie can never be taken for a person's. The key is the cookie token's hash."""

    __tablename__ = "customer_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
