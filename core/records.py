"""The shared records every package reads: customers, users, tickets, timelines, audit, outbox.

Feature packages keep their own tables in their own ``records`` modules on the same
``Base``; the columns here are the ones more than one package needs.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel, relationship

from core.clock import utcnow

TICKET_NUMBER_OFFSET = 1000


def ticket_id_of_number(number: int) -> int | None:
    """The ticket a number people see (``#1234``) stands for; None if no id could have it."""
    ticket_id = number - TICKET_NUMBER_OFFSET
    return ticket_id if ticket_id > 0 else None


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    OPS = "ops"
    ADMIN = "admin"


class Tier(enum.StrEnum):
    VIP = "vip"
    STANDARD = "standard"
    NEW = "new"


class TicketStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending-customer"
    SOLVED = "solved"
    CLOSED = "closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER)


class Priority(enum.IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


class Category(enum.StrEnum):
    COMPLAINT = "complaint"
    INQUIRY = "inquiry"
    SUGGESTION = "suggestion"
    OTHER = "other"


class Channel(enum.StrEnum):
    VOICE = "voice"
    EMAIL = "email"
    SMS = "sms"
    WEB = "web"


class EntryKind(enum.StrEnum):
    EMAIL_IN = "email_in"
    EMAIL_OUT = "email_out"
    CALL = "call"
    NOTE = "note"
    STATUS_CHANGE = "status_change"
    ASSIGNMENT = "assignment"
    ALERT = "alert"
    MERGE = "merge"  # tickets merged or a message split off: payload says which way
    TAGS = "tags"  # tags added to or removed from the ticket: payload ``added`` / ``removed``
    QUEUE_MOVE = "queue_move"  # moved to another queue by a person: payload ``from`` / ``to`` / ``note``
    FIELDS = "fields"  # custom field values changed: payload ``changes`` [{key, name, from, to}]
    RATING = "rating"  # the customer rated the solved ticket: payload ``rating`` (good/bad), ``comment``
    COMPLAINT = "complaint"  # the ticket became a complaint of a category: payload ``category``, ``source``, ``from``
    WRAP_UP = "wrap_up"  # the agent's wrap-up of a call: payload ``call``, ``category``, ``outcome``, ``note``, ``product``


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(String(20), default=Tier.STANDARD.value)
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    tier_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")  # why this tier
    # A tier a person set by hand: it wins over the tier rules until cleared (``core.tiering``).
    tier_override: Mapped[str | None] = mapped_column(String(20))
    # When the tier rules last looked at this customer; the scheduled sweep takes the oldest first.
    tier_computed_at: Mapped[datetime | None] = mapped_column(index=True)
    # What the CRM says about them (lifetime_value, contract_level, ...): free-form typed values
    # the tier rules can test; set by the customer CSV import and the API.
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    # Set when merged into another customer (kept, not deleted, so the merge can be undone).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when the customer was erased (anonymised on request): no mail goes to them any more.
    erased_at: Mapped[datetime | None]
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )
    emails: Mapped[list[CustomerEmail]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin"
    )


class CustomerPhone(Base):
    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(40), default="")
    customer: Mapped[Customer] = relationship(back_populates="phones")


class CustomerEmail(Base):
    __tablename__ = "customer_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    customer: Mapped[Customer] = relationship(back_populates="emails")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    email: Mapped[str | None] = mapped_column(String(320))
    mobile: Mapped[str | None] = mapped_column(String(32))
    extension: Mapped[str | None] = mapped_column(String(40), index=True)
    pbx_interface: Mapped[str | None] = mapped_column(String(80), index=True)
    # Takes calls in the console's browser phone (WebRTC) instead of a desk phone.
    softphone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    skills: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the person works, as written on the admin page: "mon-fri 09:00-17:00, sat 10:00-14:00".
    working_hours: Mapped[str | None] = mapped_column(String(200))
    # The agent's own choice in the console (ready, paused, offline), kept here so every server
    # process, and one started later, knows it (routing.presence_book).
    presence_state: Mapped[str | None] = mapped_column(String(20))
    presence_reason: Mapped[str | None] = mapped_column(String(200))
    presence_at: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every token ends: a leaked one stops working by itself, a revoked one at once.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
    hint: Mapped[str] = mapped_column(String(16), default="")  # the first characters, to tell tokens apart


class PasswordReset(Base):
    """A one-time link an admin hands a person to set a new password: only its hash is kept,
    it ends after a day, and it works once (``used_at``)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ServerKey(Base):
    """A key the server made itself at its first start (``core.signing_key``), shared by every
    instance on this database and kept over restarts."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A browser's login: the cookie holds a token whose hash is the key, so a leaked table grants nothing."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_queue", "status", "queue"),
        Index("ix_tickets_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.NEW.value)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.NORMAL.value)
    category: Mapped[str] = mapped_column(String(20), default=Category.OTHER.value)
    channel: Mapped[str] = mapped_column(String(20))
    queue: Mapped[str] = mapped_column(String(80))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    # SLA: the next deadline and what it belongs to; the scanner reads due_at only.
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_policy: Mapped[str | None] = mapped_column(String(80))
    sla_target: Mapped[str | None] = mapped_column(String(40))
    sla_level: Mapped[int | None]
    sla_paused_at: Mapped[datetime | None]
    sla_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Set when this ticket was merged into another: mail and calls that find this ticket go there.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # The complaint category (a key of ``routing.records.ComplaintCategory``) and when the ticket
    # first became a complaint: what the complaint report counts (``routing.complaint_report``).
    complaint_category: Mapped[str | None] = mapped_column(String(40), index=True)
    complained_at: Mapped[datetime | None] = mapped_column(index=True)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    customer: Mapped[Customer | None] = relationship(lazy="joined", foreign_keys=[customer_id])
    assignee: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[assignee_id])

    @property
    def number(self) -> int:
        return self.id + TICKET_NUMBER_OFFSET

    @property
    def tag(self) -> str:
        return f"#{self.number}"

    @property
    def merged_into_number(self) -> int | None:
        return None if self.merged_into_id is None else self.merged_into_id + TICKET_NUMBER_OFFSET


class TicketTag(Base):
    """One tag on one ticket. A table rather than a JSON list, so "tickets tagged X" is an index
    lookup on SQLite and PostgreSQL alike (``ix_ticket_tags_tag``), and the queue filter is one EXISTS."""

    __tablename__ = "ticket_tags"
    __table_args__ = (Index("ix_ticket_tags_tag", "tag", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(80), primary_key=True)  # tidied by ``routing.tags.tidy_tag``
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Lets a tag be written in the same flush as a new ticket (its id not known yet).
    ticket: Mapped[Ticket] = relationship(lazy="raise")


class CustomField(Base):
    """A ticket field an admin defined (text, number, choice or date), shown on every ticket.

    Here rather than in routing: the search index (``core.search_index``) reads the values."""

    __tablename__ = "custom_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # what the API and filters call it
    name: Mapped[str] = mapped_column(String(100))  # what people see
    kind: Mapped[str] = mapped_column(String(10))  # text | number | choice | date
    choices: Mapped[list[Any]] = mapped_column(default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketFieldValue(Base):
    """One custom field's value on one ticket, stored as its canonical text (a number as
    ``12.5``, a date as ``2026-12-06``) so filters compare it as text on both databases."""

    __tablename__ = "ticket_field_values"
    __table_args__ = (Index("ix_ticket_field_values_field_value", "field_id", "value"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (
        Index("ix_timeline_ticket_time", "ticket_id", "created_at"),
        UniqueConstraint("ticket_id", "dedup_key", name="uq_timeline_dedup"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Idempotency key from the source (call linkedid, message id), so a retry never doubles.
    dedup_key: Mapped[str | None] = mapped_column(String(300))
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    # Lets an entry be written in the same flush as a new ticket (its id not known yet).
    ticket: Mapped[Ticket] = relationship(lazy="raise")


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    """A message to deliver (email, SMS), written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "channel", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # "email" | "sms"
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedup_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class SearchDocument(Base):
    """One searchable thing (a ticket's subject, a timeline entry, a customer) as index terms.

    ``terms`` is made by ``core.search_terms`` so both databases see the same words; the
    full-text index over it lives outside the model (an FTS5 table on SQLite, a GIN index on
    PostgreSQL; see ``core.schema.UNMODELLED_NAMES``).
    """

    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_search_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # ticket, entry, customer
    ref_id: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")  # the start of the source text, for snippets
    terms: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerMerge(Base):
    """One customer merged into another, with the ids of every row that moved, so an undo
    within the allowed window moves exactly those rows back (``core.customer_merging``)."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict)
    undone_at: Mapped[datetime | None]
