"""Tables owned by the alerts package: policies, calendars and fired escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.records import Base


class SlaCalendar(Base):
    """A business calendar as ops edit it (the ``CalendarDefinition`` as JSON)."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicy(Base):
    """An SLA policy (the ``PolicyDefinition`` as JSON); ``position`` orders the matching."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(Base):
    """One rung of the ladder that fired, once per (ticket, target, cycle, level).

    ``cycle`` counts the clock starts of a target on the ticket (the next-response
    clock starts again after every customer reply); the unique constraint is what makes
    a level fire exactly once, and the outbox rows are written in the same transaction.
    """

    __tablename__ = "sla_escalations"
    __table_args__ = (
        UniqueConstraint("ticket_id", "target", "cycle", "level", name="uq_sla_escalation"),
        Index("ix_sla_escalations_fired", "fired_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    policy: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(40))
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]  # when this level was meant to fire
    deadline: Mapped[datetime]  # the target's breach time
    fired_at: Mapped[datetime]
    channels: Mapped[list[Any]] = mapped_column(default=list)
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_via: Mapped[str | None] = mapped_column(String(20))
