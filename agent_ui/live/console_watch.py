"""What a console page shows, as it tells the live hub, and which ticket frames that page needs.

At 2,000 consoles a ticket frame sent to everyone is 2,000 socket writes, and a screen-pop
makes three or four of them (ticket created, timeline, answered). Most consoles need none:
the queue page refreshes its rows when a ticket of its list changes, the ticket page its
timeline when an entry is added to that ticket, every other page nothing. So the page says
what it shows (``{"watch": {"queue": "<its query string>"}}``, ``{"watch": {"ticket": 12}}``,
or ``{"watch": {}}``) and the hub sends it only what can change it. A client that never says
(an API integration) keeps getting every ticket frame, as before.

A list's filter is matched on what the frame carries (queue, assignee); status, channel and
customer are not in the frame, so a list with such a filter is told about every change of
its queue and assignee, as before (the refresh re-reads the list anyway).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

from agent_ui.tickets.queue_filters import read_queue_view
from core.auth import Actor
from core.events import DomainEvent, TicketCreated, TicketUpdated, TimelineAppended

TICKET_FRAMES = (TicketCreated, TicketUpdated, TimelineAppended)
MAX_QUERY = 2000


@dataclasses.dataclass(frozen=True, slots=True)
class ListKey:
    """The part of a queue page's filter a ticket frame can be matched on; pages that share it share frames."""

    queue: str | None = None
    assignee: int | None = None  # a user id ("mine" or one person), or None for anyone
    unassigned: bool = False

    def matches(self, event: TicketCreated | TicketUpdated) -> bool:
        fields = event.fields if isinstance(event, TicketUpdated) else ()
        if "queue" in fields or "assignee_id" in fields:  # it may have left this list: the list must look again
            return self.queue is None or self.queue == event.queue or "queue" in fields
        if self.queue is not None and event.queue != self.queue:
            return False
        if self.unassigned:
            return event.assignee_id is None
        return self.assignee is None or event.assignee_id == self.assignee


@dataclasses.dataclass(frozen=True, slots=True)
class ConsoleWatch:
    """One page's declaration: the queue list it shows (if any) and the ticket it shows (if any)."""

    listing: ListKey | None = None
    ticket_id: int | None = None

    @classmethod
    def read(cls, declared: Any, actor: Actor) -> ConsoleWatch:
        """The ``watch`` object a page sent; anything malformed is refused with ``ValueError``
        (or the queue filter's ``InvalidInput``): the hub logs and ignores it, nobody reads it."""
        if not isinstance(declared, dict):
            raise ValueError("watch must be an object")
        listing = None
        if "queue" in declared:
            query = declared["queue"]
            if not isinstance(query, str) or len(query) > MAX_QUERY:
                raise ValueError("watch.queue must be the page's query string")
            flt = read_queue_view(dict(urllib.parse.parse_qsl(query))).to_filter(actor)
            listing = ListKey(flt.queue, flt.assignee_id, flt.unassigned)
        ticket = declared.get("ticket")
        if ticket is not None and (not isinstance(ticket, int) or isinstance(ticket, bool)):
            raise ValueError("watch.ticket must be a ticket id")
        return cls(listing, ticket)


def is_ticket_frame(event: DomainEvent) -> bool:
    return isinstance(event, TICKET_FRAMES)
