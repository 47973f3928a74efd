"""The queue's filters, read the same way from the console's query string and the API's."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from agent_ui.base.inputs import as_int
from core.auth import Actor
from core.errors import InvalidInput
from core.records import Channel, TicketStatus
from routing import TicketFilter
from routing.rules import COMPLAINT_KEY
from routing.tags import tidy_tag
from routing.ticket_listing import SORTS

STATUS_CHOICES = ("open", "all", *(s.value for s in TicketStatus))
# A custom field filter is ``cf_<key>=<value>`` in the query string (``?cf_order_ref=A-42``).
FIELD_PREFIX = "cf_"
MAX_FIELD_FILTERS = 10
CHANNEL_CHOICES = tuple(c.value for c in Channel)


@dataclasses.dataclass(frozen=True, slots=True)
class QueueView:
    """What the person asked for (to re-render the form) and the filter it means."""

    queue: str = ""
    status: str = "open"
    assignee: str = ""  # a user id, "none" for unassigned, or "" for anyone
    channel: str = ""
    mine: bool = False
    customer_id: int | None = None
    tag: str = ""  # tidied (``routing.tags.tidy_tag``)
    fields: tuple[tuple[str, str], ...] = ()  # custom field (key, value) pairs, all must hold
    complaint: str = ""  # a complaint category key or "any" (the complaint report's drill-down)
    complained_since: datetime | None = None
    complained_until: datetime | None = None
    limit: int = 200
    sort: str = "priority"  # a column of SORTS, "-" in front for the reverse order
    page: int = 0

    @property
    def sort_key(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def sorted_by(self, key: str) -> dict[str, str]:
        """The query string for a column header: sort by ``key``, or reverse it if already so."""
        sort = f"-{key}" if self.sort == key else key
        return {**{k: v for k, v in self.query().items() if k != "page"}, "sort": sort}

    def paged(self, page: int) -> dict[str, str]:
        return {**self.query(), "page": str(page)}

    def to_filter(self, actor: Actor) -> TicketFilter:
        flt = TicketFilter(
            queue=self.queue or None,
            status=self.status,
            channel=self.channel or None,
            customer_id=self.customer_id,
            tag=self.tag or None,
            fields=self.fields,
            complaint=self.complaint or None,
            complained_since=self.complained_since,
            complained_until=self.complained_until,
            limit=self.limit,
            offset=self.page * self.limit,
            sort=self.sort_key,
            descending=self.descending,
        )
        if self.mine:
            flt.assignee_id = actor.user_id
        elif self.assignee == "none":
            flt.unassigned = True
        elif self.assignee:
            flt.assignee_id = int(self.assignee)
        return flt

    def query(self) -> dict[str, str]:
        pairs = {
            "queue": self.queue,
            "status": self.status,
            "assignee": self.assignee,
            "channel": self.channel,
            "mine": "1" if self.mine else "",
            "tag": self.tag,
            **{FIELD_PREFIX + key: value for key, value in self.fields},
            "complaint": self.complaint,
            "complained_since": self.complained_since.isoformat() if self.complained_since else "",
            "complained_until": self.complained_until.isoformat() if self.complained_until else "",
            "sort": "" if self.sort == "priority" else self.sort,
            "page": str(self.page) if self.page else "",
        }
        return {k: v for k, v in pairs.items() if v}


def _moment(query: Mapping[str, str], name: str) -> datetime | None:
    """An ISO date and time with its offset (the complaint report writes them), or None."""
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("a moment is written YYYY-MM-DDTHH:MM:SS+00:00", {"field": name}) from None
    if moment.tzinfo is None or not 2000 <= moment.year <= 2999:
        raise InvalidInput("a moment is written YYYY-MM-DDTHH:MM:SS+00:00", {"field": name})
    return moment


def read_queue_view(query: Mapping[str, str]) -> QueueView:
    status = query.get("status", "") or "open"
    if status not in STATUS_CHOICES:
        raise InvalidInput("unknown status filter", {"status": status, "allowed": list(STATUS_CHOICES)})
    channel = query.get("channel", "")
    if channel and channel not in CHANNEL_CHOICES:
        raise InvalidInput("unknown channel", {"channel": channel, "allowed": list(CHANNEL_CHOICES)})
    assignee = query.get("assignee", "")
    if assignee and assignee != "none":
        as_int(assignee, "assignee")
    customer = query.get("customer_id", "")
    limit = as_int(query["limit"], "limit") if query.get("limit") else 200
    sort = query.get("sort", "") or "priority"
    if sort.removeprefix("-") not in SORTS:
        raise InvalidInput("unknown sort", {"field": "sort", "allowed": list(SORTS)})
    tag = tidy_tag(query["tag"]) if query.get("tag", "").strip() else ""
    fields = tuple((k.removeprefix(FIELD_PREFIX), " ".join(v.split())) for k, v in query.items()
                   if k.startswith(FIELD_PREFIX) and v.strip())
    if len(fields) > MAX_FIELD_FILTERS or any(not k or len(k) > 40 or len(v) > 1000 for k, v in fields):
        raise InvalidInput("at most 10 custom field filters, each a field key and a value", {"field": "cf_"})
    page = as_int(query["page"], "page") if query.get("page") else 0
    if not 0 <= page <= 10_000:
        raise InvalidInput("no such page", {"field": "page"})
    complaint = query.get("complaint", "").strip().lower()
    if complaint and not (complaint == "any" or COMPLAINT_KEY.match(complaint)):
        raise InvalidInput("unknown complaint category", {"field": "complaint"})
    return QueueView(
        queue=query.get("queue", "").strip(),
        status=status,
        assignee=assignee,
        channel=channel,
        mine=query.get("mine", "") in ("1", "true", "yes", "on"),
        customer_id=as_int(customer, "customer_id") if customer else None,
        tag=tag,
        fields=fields,
        complaint=complaint,
        complained_since=_moment(query, "complained_since"),
        complained_until=_moment(query, "complained_until"),
        limit=max(1, min(limit, 1000)),
        sort=sort,
        page=page,
    )
