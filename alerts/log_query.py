"""Which escalations the SLA alerts log shows: filters, a page at a time, and only levels that
notified someone.

A level whose recipients resolved to nobody still fires (the ladder records it so it fires once)
but there is nothing to act on: the log leaves it out in the query, so paging counts only rows
people can see. Delivery results live in the outbox, whose ``dedup_key`` starts with the
escalation's key (``sla:<ticket>:<target>:<cycle>:<level>``); "sent", "failed" and "by channel"
are EXISTS over those rows, so they work the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, literal, select

from alerts.records import Escalation
from core.records import OutboxMessage, Ticket

Status = Literal["open", "acknowledged", "sent", "failed"]
STATUSES: tuple[Status, ...] = ("open", "acknowledged", "sent", "failed")
CHANNELS = ("email", "sms")
PAGE_SIZE = 50


@dataclasses.dataclass(frozen=True)
class AlertFilter:
    """What the supervisor asked for; ``None`` means any. ``level`` counts from 1 as shown."""

    level: int | None = None
    channel: str | None = None
    status: Status | None = None
    since: datetime | None = None  # fired at or after (UTC)
    until: datetime | None = None  # fired before (UTC)
    ticket_id: int | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


def _key_prefix() -> ColumnElement[str]:
    """The escalation's key plus ``:``, built in SQL (``||`` on both databases)."""
    return (literal("sla:", String) + cast(Escalation.ticket_id, String) + literal(":", String)
            + Escalation.target + literal(":", String) + cast(Escalation.cycle, String) + literal(":", String)
            + cast(Escalation.level, String) + literal(":", String))


def _deliveries(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """Some outbox row of this escalation (matching ``conditions``) exists."""
    return exists().where(
        OutboxMessage.ticket_id == Escalation.ticket_id,
        OutboxMessage.dedup_key.startswith(_key_prefix(), autoescape=False),
        *conditions,
    )


def notified_someone() -> ColumnElement[bool]:
    """The level had at least one recipient (an empty JSON list is ``[]`` as text on both databases)."""
    return and_(Escalation.recipients.is_not(None), cast(Escalation.recipients, String) != "[]")


def alerts_query(wanted: AlertFilter, page: int = 1, page_size: int = PAGE_SIZE) -> Select[Escalation, Ticket]:
    """Newest first, one page plus one row (so the caller knows whether another page follows)."""
    stmt = (select(Escalation, Ticket).join(Ticket, Ticket.id == Escalation.ticket_id)
            .where(notified_someone()))
    if wanted.level is not None:
        stmt = stmt.where(Escalation.level == wanted.level - 1)
    if wanted.channel is not None:
        stmt = stmt.where(_deliveries(OutboxMessage.channel == wanted.channel))
    if wanted.status == "open":
        stmt = stmt.where(Escalation.acknowledged_at.is_(None))
    elif wanted.status == "acknowledged":
        stmt = stmt.where(Escalation.acknowledged_at.is_not(None))
    elif wanted.status is not None:
        stmt = stmt.where(_deliveries(OutboxMessage.status == wanted.status))
    if wanted.since is not None:
        stmt = stmt.where(Escalation.fired_at >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(Escalation.fired_at < wanted.until)
    if wanted.ticket_id is not None:
        stmt = stmt.where(Escalation.ticket_id == wanted.ticket_id)
    return (stmt.order_by(Escalation.fired_at.desc(), Escalation.id.desc())
            .offset((max(page, 1) - 1) * page_size).limit(page_size + 1))
