"""Merging tickets and splitting one apart: when one customer wrote twice about one thing, or
one mail asked two things. Both go through the desk (timeline entries, live events, hooks,
audit), so a merged or split ticket looks like any other change to the people watching it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import InvalidInput, NotFound
from core.events import TicketCreated, TicketUpdated
from core.records import EntryKind, Role, Ticket, TicketStatus, TimelineEntry
from routing.desk import TicketChange, TicketDesk

SPLITTABLE = (EntryKind.EMAIL_IN.value, EntryKind.EMAIL_OUT.value, EntryKind.NOTE.value, EntryKind.CALL.value)


async def merge(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket_id: int, into_id: int) -> Ticket:
    """Merge ``ticket_id`` into ``into_id``: its timeline moves over (in time order with the
    survivor's), it is closed with a pointer, and mail or calls that later find it land in the
    survivor. Both tickets say so on their timelines; audited."""
    if ticket_id == into_id:
        raise InvalidInput("a ticket cannot be merged into itself", {"field": "into"})
    source = await desk.get(session, actor, ticket_id)
    target = await desk.get(session, actor, await survivor(session, into_id))
    if target.id == source.id:
        raise InvalidInput("that ticket was merged into this one", {"field": "into"})
    if source.merged_into_id is not None:
        raise InvalidInput("this ticket is already merged", {"field": "into", "into": source.merged_into_id})
    taken = set(await session.scalars(
        select(TimelineEntry.dedup_key).where(TimelineEntry.ticket_id == target.id,
                                              TimelineEntry.dedup_key.is_not(None))))
    moved = 0
    for entry in await session.scalars(select(TimelineEntry).where(TimelineEntry.ticket_id == source.id)):
        if entry.dedup_key in taken:
            entry.dedup_key = None  # the survivor already holds that message: keep both, unkeyed
        entry.ticket_id = target.id
        moved += 1
    now = desk.clock.now()
    before = {"status": source.status, "merged_into_id": None}
    source.merged_into_id = target.id
    source.status = TicketStatus.CLOSED.value
    source.solved_at = now
    source.updated_at = target.updated_at = now
    if target.customer_id is None and source.customer_id is not None:
        target.customer_id = source.customer_id
    await session.flush()
    await desk.append(session, source, EntryKind.MERGE,
                      {"event": "merged-into", "ticket": target.number, "ticket_id": target.id}, actor.user_id)
    await desk.append(session, target, EntryKind.MERGE,
                      {"event": "merged-from", "ticket": source.number, "ticket_id": source.id, "entries": moved},
                      actor.user_id)
    record_change(session, actor, "ticket.merge", "ticket", source.id, before,
                  {"status": source.status, "merged_into_id": target.id})
    desk.emit(session, TicketUpdated(source.id, source.queue, ("status", "merged_into_id"), source.assignee_id))
    desk.emit(session, TicketUpdated(target.id, target.queue, ("timeline",), target.assignee_id))
    await desk.changed(session, source, TicketChange("status", ("status",), {"status": before["status"]}))
    await session.refresh(target, ["assignee", "customer"])
    return target

async def split(desk: TicketDesk, session: AsyncSession, actor: Actor, entry_id: int) -> Ticket:
    """One message of a ticket becomes a ticket of its own (same customer, queue and priority),
    with a note on both; audited."""
    actor.require(Role.AGENT, Role.OPS)
    entry = await session.get(TimelineEntry, entry_id)
    if entry is None:
        raise NotFound("no such timeline entry", {"id": entry_id})
    if entry.kind not in SPLITTABLE:
        raise InvalidInput("only a mail, a note or a call can be split off", {"field": "entry_id"})
    source = await desk.get(session, actor, entry.ticket_id)
    if (await session.scalar(select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.ticket_id == source.id, TimelineEntry.kind.in_(SPLITTABLE)))) == 1:
        raise InvalidInput("the ticket's only message cannot be split off", {"field": "entry_id"})
    now = desk.clock.now()
    subject = str((entry.payload or {}).get("subject") or "").strip() or source.subject
    fresh = Ticket(subject=subject[:500], status=TicketStatus.OPEN.value, priority=source.priority,
                   category=source.category, channel=source.channel, queue=source.queue,
                   customer_id=source.customer_id, assignee_id=actor.user_id if actor.has(Role.AGENT) else None,
                   created_at=now, updated_at=now, sla_state={})
    session.add(fresh)
    await desk.changed(session, fresh, TicketChange("created"))  # its SLA clock, as any new ticket's
    await session.flush()
    entry.ticket_id = fresh.id
    source.updated_at = now
    await desk.append(session, source, EntryKind.MERGE,
                      {"event": "split-to", "ticket": fresh.number, "ticket_id": fresh.id}, actor.user_id)
    await desk.append(session, fresh, EntryKind.MERGE,
                      {"event": "split-from", "ticket": source.number, "ticket_id": source.id}, actor.user_id)
    record_change(session, actor, "ticket.split", "ticket", source.id, None, {"entry_id": entry.id, "to": fresh.id})
    desk.emit(session, TicketCreated(fresh.id, fresh.queue, fresh.channel, fresh.assignee_id))
    desk.emit(session, TicketUpdated(source.id, source.queue, ("timeline",), source.assignee_id))
    await session.refresh(fresh, ["assignee", "customer"])
    return fresh

async def survivor(session: AsyncSession, ticket_id: int) -> int:
    """The ticket that now stands for ``ticket_id``: itself, or where it was merged (followed)."""
    seen = {ticket_id}
    while (into := await session.scalar(select(Ticket.merged_into_id).where(Ticket.id == ticket_id))) is not None:
        if into in seen:  # pragma: no cover - merge refuses cycles; never loop on bad data
            break
        seen.add(into)
        ticket_id = into
    return ticket_id
