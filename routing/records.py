"""Tables owned by routing (on the shared ``core.records.Base``).

``routing_rule_versions``: every save of the rule set is a new row (author, time, the whole
set, a readable diff against the one before); the live set is the newest. Restoring a
version saves its rules as a new version, so history only grows.
``routed_contacts``: a compact snapshot of each routed contact and what was decided, for
replaying a draft over real traffic, and to find an unknown caller's recent ticket by number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.clock import utcnow
from core.records import Base, Ticket


class RuleVersion(Base):
    __tablename__ = "routing_rule_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    rules: Mapped[list[Any]] = mapped_column(default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    diff: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The version a restore brought back (its note is shown in the reader's language from this).
    restored_from: Mapped[int | None] = mapped_column(Integer)


class RoutedContact(Base):
    __tablename__ = "routed_contacts"
    __table_args__ = (
        Index("ix_routed_contacts_at", "at"),
        Index("ix_routed_contacts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(String(320))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    created: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    rule: Mapped[str | None] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(80))
    priority: Mapped[int] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(Integer)  # no FK: a snapshot outlives its users
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the rules may read (see ``snapshot``)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    ticket: Mapped[Ticket | None] = relationship(lazy="raise")


class WorkItem(Base):
    """A ticket waiting to be pushed to an agent (its queue's strategy is not manual pull)."""

    __tablename__ = "routing_work"
    __table_args__ = (Index("ix_routing_work_state_rank", "state", "priority", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    queue: Mapped[str] = mapped_column(String(80))
    priority: Mapped[int] = mapped_column(Integer)  # the ticket's, plus one for a VIP: the order of offers
    skill: Mapped[str | None] = mapped_column(String(80))
    team: Mapped[str | None] = mapped_column(String(80))  # offered only to this team's agents (``routing.teams``)
    strategy: Mapped[str] = mapped_column(String(20))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    preferred_agent_id: Mapped[int | None] = mapped_column(Integer)  # the customer's last agent
    state: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | offered | assigned | closed
    offered_to: Mapped[int | None] = mapped_column(Integer)
    offer_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(lazy="raise")


class Offer(Base):
    """Each time a ticket was offered to an agent, and what came of it (for reports and the wallboard)."""

    __tablename__ = "routing_offers"
    __table_args__ = (Index("ix_routing_offers_agent_outcome", "agent_id", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("routing_work.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # accepted | declined | missed | withdrawn; None while open


class Macro(Base):
    """A named set of ticket actions applied in one click: shared (``owner_id`` None, made by
    admins) or one person's own. ``actions`` is what ``routing.macros.MacroActions`` reads."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    actions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedView(Base):
    """A named queue filter and sort: one person's own, or shared with every agent (``owner_id`` None).
    ``query`` is the queue's query string as a mapping, read back by the queue's own filter parser."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketRating(Base):
    """The customer's satisfaction with a solved ticket (good or bad, a comment): one per ticket,
    with the agent and queue it was solved by, so the reports count it where the work was done."""

    __tablename__ = "ticket_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    rating: Mapped[str] = mapped_column(String(10))  # "good" | "bad"
    comment: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    queue: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ComplaintCategory(Base):
    """A complaint category admins keep (``routing.complaints``): a stable key that rules, templates,
    wrap-ups and the report use, and its name in each language people read."""

    __tablename__ = "complaint_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)  # language code -> display name
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
