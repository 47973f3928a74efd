"""The complaint report: complaints that arose in a date range, by category, product, queue and
channel, each with its weekly trend, for product teams to read every week.

A complaint counts on the day the ticket first became one (``tickets.complained_at``), in the
category it has now (a later source may have corrected it), whatever set it (``routing.complaints``).
Products are the tickets' ``product:`` tags (a ticket about two products counts for each;
one about none counts under "no product"). Weeks start on Monday, in the report's time zone.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.clock import as_utc
from core.errors import InvalidInput
from core.records import Role, Ticket, TicketTag
from routing.complaints import category_names
from routing.reports import DateRange
from routing.wrap_up import PRODUCT_TAG_PREFIX

NO_PRODUCT = ""  # the product row of complaints about no product


@dataclasses.dataclass(slots=True)
class ComplaintRow:
    key: str  # the category key, product, queue or channel ("" for no product)
    label: str  # what people read (a category's name in their language)
    weekly: list[int]

    @property
    def total(self) -> int:
        return sum(self.weekly)


@dataclasses.dataclass(slots=True)
class ComplaintReport:
    span: DateRange
    weeks: list[date]  # the Monday of each week the range touches
    total: ComplaintRow
    categories: list[ComplaintRow]
    products: list[ComplaintRow]
    queues: list[ComplaintRow]
    channels: list[ComplaintRow]

    def sections(self) -> list[tuple[str, list[ComplaintRow]]]:
        return [("category", self.categories), ("product", self.products), ("queue", self.queues),
                ("channel", self.channels)]


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _ordered(rows: dict[str, ComplaintRow]) -> list[ComplaintRow]:
    """Most complaints first, then by name: what a weekly reader looks at first."""
    return sorted(rows.values(), key=lambda r: (-r.total, r.label.lower(), r.key))


async def complaint_report(session: AsyncSession, actor: Actor, span: DateRange, language: str | None) -> ComplaintReport:
    actor.require(Role.SUPERVISOR)
    first_week = week_of(span.first)
    weeks = [first_week + timedelta(weeks=n) for n in range((week_of(span.last) - first_week).days // 7 + 1)]
    names = await category_names(session, language)
    in_span = (Ticket.complaint_category.is_not(None), Ticket.complained_at >= span.since,
               Ticket.complained_at < span.until)
    stmt = select(Ticket.id, Ticket.complaint_category, Ticket.queue, Ticket.channel, Ticket.complained_at).where(*in_span)
    found = list(await session.execute(stmt))
    products: dict[int, list[str]] = {}
    if found:
        tagged = select(TicketTag.ticket_id, TicketTag.tag).where(
            TicketTag.tag.startswith(PRODUCT_TAG_PREFIX, autoescape=True),
            TicketTag.ticket_id.in_(select(Ticket.id).where(*in_span)))
        for ticket_id, tag in await session.execute(tagged):
            products.setdefault(ticket_id, []).append(tag.removeprefix(PRODUCT_TAG_PREFIX))
    total = ComplaintRow("", "", [0] * len(weeks))
    groups: dict[str, dict[str, ComplaintRow]] = {"category": {}, "product": {}, "queue": {}, "channel": {}}

    def count(group: str, key: str, label: str, week: int) -> None:
        row = groups[group].setdefault(key, ComplaintRow(key, label, [0] * len(weeks)))
        row.weekly[week] += 1

    for ticket_id, category_key, queue, channel, at in found:
        category = str(category_key)
        week = (week_of(as_utc(at or span.since).astimezone(span.zone).date()) - first_week).days // 7
        total.weekly[week] += 1
        count("category", category, names.get(category, category), week)
        count("queue", queue, queue, week)
        count("channel", channel, channel, week)
        for product in products.get(ticket_id) or [NO_PRODUCT]:
            count("product", product, product, week)
    return ComplaintReport(span, weeks, total, *(_ordered(groups[g]) for g in ("category", "product", "queue", "channel")))


DRILL_BY = ("category", "product", "queue", "channel")
DRILL_LIMIT = 500


async def complaint_tickets(session: AsyncSession, actor: Actor, span: DateRange, by: str, key: str) -> list[Ticket]:
    """The tickets behind one figure of the report (newest complaint first, at most ``DRILL_LIMIT``)."""
    actor.require(Role.SUPERVISOR)
    if by not in DRILL_BY:
        raise InvalidInput("drill down by category, product, queue or channel", {"field": "by"})
    stmt = select(Ticket).where(Ticket.complaint_category.is_not(None), Ticket.complained_at >= span.since,
                                Ticket.complained_at < span.until)
    if by == "category":
        stmt = stmt.where(Ticket.complaint_category == key)
    elif by == "queue":
        stmt = stmt.where(Ticket.queue == key)
    elif by == "channel":
        stmt = stmt.where(Ticket.channel == key)
    else:
        product = exists().where(TicketTag.ticket_id == Ticket.id,
                                 TicketTag.tag.startswith(PRODUCT_TAG_PREFIX, autoescape=True))
        stmt = stmt.where(~product if key == NO_PRODUCT else exists().where(
            TicketTag.ticket_id == Ticket.id, TicketTag.tag == PRODUCT_TAG_PREFIX + key))
    stmt = stmt.order_by(Ticket.complained_at.desc(), Ticket.id.desc()).limit(DRILL_LIMIT)
    return list((await session.scalars(stmt)).unique())
