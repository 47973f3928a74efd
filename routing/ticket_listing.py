"""Listing tickets: the queue's filter, the conditions and order it means, and the JSON shape
of tickets and timeline entries that lists, feeds and messages show.

Kept apart from ``routing.desk`` (which changes tickets) so readers of tickets, such as search,
the integrations feed and templates, need none of the desk's machinery.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select

from core.records import (
    OPEN_STATUSES,
    CustomField,
    EntryKind,
    Priority,
    Ticket,
    TicketFieldValue,
    TicketTag,
    TimelineEntry,
)


@dataclasses.dataclass(slots=True)
class TicketFilter:
    queue: str | None = None
    status: str | None = None  # a status, or "open" for every open status
    assignee_id: int | None = None
    unassigned: bool = False
    channel: str | None = None
    customer_id: int | None = None
    tag: str | None = None  # tickets carrying this tag (as ``routing.tags.tidy_tag`` writes it)
    # Custom field values, (key, value) pairs: tickets whose field holds the value (text
    # compared without regard to case).
    fields: tuple[tuple[str, str], ...] = ()
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    complaint: str | None = None  # a complaint category key, or "any" for every complaint
    complained_since: datetime | None = None  # became a complaint at or after
    complained_until: datetime | None = None  # became a complaint before
    limit: int = 200
    offset: int = 0
    sort: str = "priority"  # one of SORTS
    descending: bool = False


# What the queue can be sorted by: the column, and the order that breaks ties. "priority"
# is the desk's own order (most urgent first, then oldest); "due" puts tickets with no SLA
# deadline last whichever way it runs.
SORTS = ("priority", "due", "updated", "created", "number", "status", "queue", "subject")


def ticket_conditions(flt: TicketFilter) -> list[Any]:
    """The WHERE conditions a filter means, for the queue list and for search alike."""
    found: list[Any] = []
    if flt.status == "open" or flt.status is None:
        found.append(Ticket.status.in_(OPEN_STATUSES))
    elif flt.status != "all":
        found.append(Ticket.status == flt.status)
    if flt.queue:
        found.append(Ticket.queue == flt.queue)
    if flt.unassigned:
        found.append(Ticket.assignee_id.is_(None))
    elif flt.assignee_id is not None:
        found.append(Ticket.assignee_id == flt.assignee_id)
    if flt.channel:
        found.append(Ticket.channel == flt.channel)
    if flt.customer_id is not None:
        found.append(Ticket.customer_id == flt.customer_id)
    if flt.tag:  # through the (tag, ticket_id) index
        found.append(exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.tag == flt.tag))
    for key, value in flt.fields:  # through the (field_id, value) index's field_id
        found.append(exists().where(
            TicketFieldValue.ticket_id == Ticket.id, TicketFieldValue.field_id == CustomField.id,
            CustomField.key == key, func.lower(TicketFieldValue.value) == value.strip().lower()))
    if flt.since is not None:
        found.append(Ticket.created_at >= flt.since)
    if flt.until is not None:
        found.append(Ticket.created_at < flt.until)
    if flt.complaint:
        found.append(Ticket.complaint_category.is_not(None) if flt.complaint == "any"
                     else Ticket.complaint_category == flt.complaint)
    if flt.complained_since is not None:
        found.append(Ticket.complained_at >= flt.complained_since)
    if flt.complained_until is not None:
        found.append(Ticket.complained_at < flt.complained_until)
    return found


def _ordering(flt: TicketFilter) -> list[Any]:
    if flt.sort == "priority":
        order = [Ticket.priority.desc(), Ticket.created_at]
        return [Ticket.priority, Ticket.created_at.desc()] if flt.descending else order
    column = {"due": Ticket.due_at, "updated": Ticket.updated_at, "created": Ticket.created_at, "number": Ticket.id,
              "status": Ticket.status, "queue": Ticket.queue, "subject": Ticket.subject}[flt.sort]
    direction = column.desc() if flt.descending else column.asc()
    if flt.sort == "due":
        return [Ticket.due_at.is_(None), direction, Ticket.id]
    return [direction, Ticket.id]


def ticket_dict(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "tag": ticket.tag,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": Priority(ticket.priority).name.lower(),
        "category": ticket.category,
        "channel": ticket.channel,
        "queue": ticket.queue,
        "assignee_id": ticket.assignee_id,
        "assignee": ticket.assignee.display_name if ticket.assignee else None,
        "customer_id": ticket.customer_id,
        "customer": ticket.customer.name if ticket.customer else None,
        "customer_tier": ticket.customer.tier if ticket.customer else None,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "first_response_at": ticket.first_response_at.isoformat() if ticket.first_response_at else None,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "complaint_category": ticket.complaint_category,
        "complained_at": ticket.complained_at.isoformat() if ticket.complained_at else None,
    }


def entry_dict(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "ticket_id": entry.ticket_id,
        "kind": entry.kind,
        "author_id": entry.author_id,
        "created_at": entry.created_at.isoformat(),
        "payload": entry.payload,
    }


def ticket_list_query(flt: TicketFilter) -> Select[Ticket]:
    """One page of the queue as ``flt`` asks for it (at most 1,000 tickets)."""
    stmt = select(Ticket).where(*ticket_conditions(flt))
    return stmt.order_by(*_ordering(flt)).offset(max(flt.offset, 0)).limit(min(max(flt.limit, 1), 1000))


def customer_history_query(customer_id: int, limit: int) -> Select[TimelineEntry, Ticket]:
    """The customer's last ``limit`` messages, calls and notes, newest first, with their tickets."""
    return (
        select(TimelineEntry, Ticket)
        .join(Ticket, Ticket.id == TimelineEntry.ticket_id)
        .where(
            Ticket.customer_id == customer_id,
            TimelineEntry.kind.in_([EntryKind.EMAIL_IN, EntryKind.EMAIL_OUT, EntryKind.CALL, EntryKind.NOTE]),
        )
        .order_by(TimelineEntry.created_at.desc())
        .limit(limit)
    )


__all__ = [
    "SORTS", "TicketFilter", "customer_history_query", "entry_dict", "ticket_conditions", "ticket_dict",
    "ticket_list_query",
]
