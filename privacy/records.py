"""The privacy feature's tables: who looked at which record, and the admin-set privacy policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.records import Base


class RecordView(Base):
    """One look by a person at a customer record or a ticket (page or API), kept so an admin can
    answer "who saw this customer's data, and when". Written in batches, off the request's path."""

    __tablename__ = "record_views"
    __table_args__ = (
        Index("ix_record_views_customer_at", "customer_id", "at"),
        Index("ix_record_views_ticket_at", "ticket_id", "at"),
        Index("ix_record_views_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Exactly one of the two: the customer's page, or a ticket (its customer is read through it).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(10))  # "page" | "api"
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PrivacyPolicy(Base):
    """The one row of privacy settings admins edit: which roles see contact details masked, and
    how long closed tickets' contents and call records are kept (None: for ever)."""

    __tablename__ = "privacy_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    masked_roles: Mapped[list[Any]] = mapped_column(default=list)
    ticket_days: Mapped[int | None] = mapped_column(Integer)
    call_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TicketPurge(Base):
    """A closed ticket whose bodies and attachments the retention job has removed (once each)."""

    __tablename__ = "ticket_purges"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)
