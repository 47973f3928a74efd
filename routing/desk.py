"""The one queue: contacts become or join tickets; agents take, assign, note and resolve them.

Every method that changes a ticket runs inside the caller's session, collects the
domain events it causes, and lets ``TicketHook``s (SLA clocks, ...) react in the
same transaction. ``commit_and_publish`` publishes only after the commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import Clock, SystemClock
from core.errors import InvalidInput, NotFound
from core.events import DomainEvent, EventBus, TicketCreated, TicketUpdated, TimelineAppended
from core.loop_turn import LoopTurn
from core.records import (
    Category,
    Channel,
    Customer,
    EntryKind,
    Priority,
    Role,
    Ticket,
    TicketStatus,
    Tier,
    TimelineEntry,
    User,
)
from routing.complaints import complaint_by_template, set_complaint
from routing.contact import Contact, Decision
from routing.policy import RoutingPolicy
from routing.records import WorkItem
from routing.replay import snapshot
from routing.tags import tag_routed
from routing.ticket_listing import TicketFilter, customer_history_query, ticket_list_query

# The key of a ticket's ``sla_state`` naming the SLA policy a routing rule chose: the SLA clock
# (``alerts.sla_clock``) uses that policy instead of the first one whose match fits.
ROUTED_SLA_POLICY = "chosen"

# Events published per loop turn after a commit (well under a console's queue of 256).
PUBLISH_SLICE = 64


@dataclasses.dataclass(frozen=True, slots=True)
class TicketChange:
    """What happened to a ticket, for hooks that keep derived state (e.g. SLA ``due_at``).

    For ``created`` the ticket is not flushed yet: it has no id.
    """

    kind: str  # created | customer_message | agent_reply | status | priority | assignment | note
    fields: tuple[str, ...] = ()
    before: dict[str, Any] = dataclasses.field(default_factory=dict)


class TicketHook(Protocol):
    async def ticket_changed(self, session: AsyncSession, ticket: Ticket, change: TicketChange) -> None: ...


@dataclasses.dataclass(slots=True)
class Accepted:
    ticket: Ticket
    entry: TimelineEntry | None
    created: bool
    decision: Decision


def parse_priority(value: str | int) -> int:
    if isinstance(value, int) and value in Priority._value2member_map_:
        return value
    try:
        return Priority[str(value).upper()].value
    except KeyError:
        raise InvalidInput("priority must be low, normal, high or urgent", {"priority": value}) from None


class TicketDesk:
    def __init__(
        self,
        policy: RoutingPolicy,
        bus: EventBus,
        clock: Clock | None = None,
        hooks: Sequence[TicketHook] = (),
    ) -> None:
        self.policy = policy
        self.bus = bus
        self.clock = clock or SystemClock()
        self.hooks: list[TicketHook] = list(hooks)

    # -- events, published only after the transaction commits ------------------------
    def emit(self, session: AsyncSession, event: DomainEvent | Callable[[], DomainEvent]) -> None:
        """Queue an event to publish after the session commits (see ``commit_and_publish``).

        A callable is called at publish time: rows written in a later flush have their
        ids by then.
        """
        session.info.setdefault("frontdesk_events", []).append(event)

    async def commit_and_publish(self, session: AsyncSession) -> None:
        await session.commit()
        await self.publish_pending(session)

    async def publish_pending(self, session: AsyncSession) -> None:
        """Publish what the committed transaction emitted, yielding to the loop every
        ``PUBLISH_SLICE`` events and whenever a loop turn is used up (``LoopTurn``): subscribers
        only queue (each console has a bounded queue and a writer task), so a batch of hundreds published in one turn (the call recorder's, at
        10 calls/s) would fill every console's queue before any writer ran, and close them all."""
        events: list[DomainEvent | Callable[[], DomainEvent]] = session.info.pop("frontdesk_events", [])
        turn = LoopTurn()
        for n, event in enumerate(events, start=1):
            await self.bus.publish(event() if callable(event) else event)
            await turn.pause_if_due(force=n % PUBLISH_SLICE == 0)

    async def changed(self, session: AsyncSession, ticket: Ticket, change: TicketChange) -> None:
        """Tell the hooks (the SLA clock) what happened, so their derived state follows."""
        for hook in self.hooks:
            await hook.ticket_changed(session, ticket, change)

    # -- contacts from channels -------------------------------------------------------
    async def accept(
        self,
        session: AsyncSession,
        contact: Contact,
        kind: EntryKind | str,
        payload: dict[str, Any],
        dedup_key: str | None = None,
        author_id: int | None = None,
        flush: bool = True,
    ) -> Accepted:
        """Route ``contact`` and record it on a new or existing ticket (in the caller's session).

        ``flush=False`` leaves a new ticket and the entry unwritten (no ids yet) until the
        caller's next flush: a channel importing a batch (``prefetch`` first) writes all of
        its tickets and entries in one INSERT per table.
        """
        decision = await self.policy.route(session, contact)
        now = self.clock.now()
        ticket = None
        if decision.join_ticket_id is not None:
            ticket = await session.get(Ticket, decision.join_ticket_id)
        created = ticket is None
        if ticket is None:
            # Relationships come from the identity map (the channel already loaded the
            # customer), so the new ticket needs no refresh round trip.
            customer = await session.get(Customer, contact.customer_id) if contact.customer_id else None
            assignee = await session.get(User, decision.assignee_id) if decision.assignee_id else None
            ticket = Ticket(
                subject=(contact.subject or "").strip()[:500] or f"{contact.channel} from {contact.address or 'unknown'}",
                status=TicketStatus.NEW.value,
                priority=decision.priority,
                category=decision.category,
                channel=contact.channel,
                queue=decision.queue,
                assignee=assignee,
                customer=customer,
                created_at=now,
                updated_at=now,
                sla_state={ROUTED_SLA_POLICY: decision.sla_policy} if decision.sla_policy else {},
            )
            session.add(ticket)
            if assignee is None and decision.push:  # offered to an agent by the assigner
                vip = 1 if contact.customer_tier == Tier.VIP.value else 0
                session.add(WorkItem(ticket=ticket, queue=decision.queue, priority=decision.priority * 2 + vip,
                                     skill=decision.skill, team=decision.team, strategy=decision.strategy or "least_busy", weight=decision.weight,
                                     preferred_agent_id=decision.preferred_agent_id, state="waiting", created_at=now))
            # Hooks see a "created" ticket before its INSERT (it has no id yet), so the
            # row is written once with its derived columns (the SLA deadline).
            await self.changed(session, ticket, TicketChange("created"))
            self.policy.opened(session, ticket)
            if flush:
                await session.flush()
            new = ticket
            self.emit(session, lambda: TicketCreated(new.id, new.queue, new.channel, new.assignee_id))
        else:
            ticket.updated_at = now
            if ticket.status == TicketStatus.PENDING_CUSTOMER.value:
                ticket.status = TicketStatus.OPEN.value
            fields: tuple[str, ...] = ("timeline",)
            before: dict[str, Any] = {}
            if decision.subject is not None:  # e.g. an abandoned call's own ticket becomes its callback
                before = {"subject": ticket.subject, "priority": ticket.priority}
                ticket.subject = decision.subject.strip()[:500] or ticket.subject
                ticket.priority = max(ticket.priority, decision.priority)
                fields = ("timeline", "subject", "priority")
            self.emit(session, TicketUpdated(ticket.id, ticket.queue, fields, ticket.assignee_id))
            if before and before["priority"] != ticket.priority:
                await self.changed(session, ticket, TicketChange("priority", ("priority",), {"priority": before["priority"]}))
            await self.changed(session, ticket, TicketChange("customer_message"))
        if decision.tags:
            await tag_routed(session, ticket, decision.tags, created, now)
        payload = {**payload, "routing": decision.explanation()}
        entry = await self.append(session, ticket, kind, payload, author_id=author_id, dedup_key=dedup_key, flush=flush)
        await self._complaint_of(session, contact, decision, ticket, flush)
        session.add(snapshot(contact, decision, ticket, created, now))
        return Accepted(ticket, entry, created, decision)

    async def _complaint_of(self, session: AsyncSession, contact: Contact, decision: Decision, ticket: Ticket,
                            flush: bool) -> None:
        """A rule's complaint category, else the one the suggested reply template's category names."""
        if decision.complaint_category:
            await set_complaint(self, session, ticket, decision.complaint_category, "rule",
                                detail={"rule": decision.matched_rule}, flush=flush)
            return
        template_category = contact.attributes.get("template_category")
        if template_category:
            with session.no_autoflush:  # a batch import writes its tickets in one INSERT later
                key = await complaint_by_template(session, str(template_category))
            if key:
                await set_complaint(self, session, ticket, key, "template",
                                    detail={"template": contact.attributes.get("template")}, flush=flush)

    async def prefetch(self, session: AsyncSession, customer_ids: Collection[int]) -> None:
        """Read what routing needs for a batch of contacts from these customers, in a few queries."""
        await self.policy.prefetch(session, customer_ids)

    async def open_ticket(
        self,
        session: AsyncSession,
        actor: Actor,
        subject: str,
        body: str = "",
        customer_id: int | None = None,
        priority: str | int | None = None,
        category: str | None = None,
        queue: str | None = None,
        join: bool = False,
    ) -> Accepted:
        """A person opens a ticket from the console or the API: routed like any contact ("web").

        Always a new ticket with the subject, priority and category sent, unless ``join``
        asks to add it to the customer's open ticket (the rules decide which).
        """
        actor.require(Role.AGENT, Role.OPS)
        subject = (subject or "").strip()
        if not subject:
            raise InvalidInput("a ticket needs a subject")
        if category is not None and (not isinstance(category, str) or category not in {c.value for c in Category}):
            raise InvalidInput("unknown category", {"category": category})
        wanted_priority = parse_priority(priority) if priority is not None else None
        customer = None
        if customer_id is not None:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise InvalidInput("no such customer", {"customer_id": customer_id})
        contact = Contact(
            channel=Channel.WEB.value,
            customer_id=customer_id,
            customer_tier=customer.tier if customer else None,
            subject=subject,
            body=body,
            queue_hint=(queue or "").strip() or None,
            category=category,
            attributes={"join": join, **({"priority": wanted_priority} if wanted_priority is not None else {})},
        )
        accepted = await self.accept(
            session, contact, EntryKind.NOTE, {"text": (body or "").strip() or subject}, author_id=actor.user_id
        )
        record_change(session, actor, "ticket.open", "ticket", accepted.ticket.id, None, {"created": accepted.created})
        return accepted

    async def append(
        self,
        session: AsyncSession,
        ticket: Ticket | int,
        kind: EntryKind | str,
        payload: dict[str, Any],
        author_id: int | None = None,
        dedup_key: str | None = None,
        flush: bool = True,
    ) -> TimelineEntry:
        """An entry on ``ticket`` (or the ticket of that id); its live event is published after commit."""
        entry = TimelineEntry(
            kind=str(kind),
            author_id=author_id,
            payload=payload,
            dedup_key=dedup_key,
            created_at=self.clock.now(),
        )
        if isinstance(ticket, Ticket):
            entry.ticket = ticket
        else:
            entry.ticket_id = ticket
        session.add(entry)
        if flush:
            await session.flush()
        self.emit(session, lambda: TimelineAppended(entry.ticket_id, entry.id, entry.kind))
        return entry

    # -- what agents do ---------------------------------------------------------------
    async def get(self, session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
        actor.require(Role.AGENT, Role.OPS)
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound("no such ticket", {"id": ticket_id})
        return ticket

    async def timeline(self, session: AsyncSession, actor: Actor, ticket_id: int) -> list[TimelineEntry]:
        await self.get(session, actor, ticket_id)
        stmt = (
            select(TimelineEntry)
            .where(TimelineEntry.ticket_id == ticket_id)
            .order_by(TimelineEntry.created_at, TimelineEntry.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def list_tickets(self, session: AsyncSession, actor: Actor, flt: TicketFilter) -> list[Ticket]:
        actor.require(Role.AGENT, Role.OPS)
        return list((await session.execute(ticket_list_query(flt))).scalars().unique())

    async def assign(
        self, session: AsyncSession, actor: Actor, ticket_id: int, user_id: int | None
    ) -> Ticket:
        """An agent may take a ticket, and hand one that is theirs or nobody's to a colleague
        (audited, on the timeline); taking someone else's ticket from them, or unassigning it,
        needs a supervisor."""
        ticket = await self.get(session, actor, ticket_id)
        handing_own = ticket.assignee_id in (None, actor.user_id) and user_id is not None
        if user_id != actor.user_id and not (handing_own and actor.has(Role.AGENT)):
            actor.require(Role.SUPERVISOR)
        if user_id is not None:
            user = await session.get(User, user_id)
            if user is None or not user.active:
                raise InvalidInput("no such active user", {"user_id": user_id})
            if user_id != actor.user_id and Role.AGENT.value not in (user.roles or []):
                raise InvalidInput("tickets go to agents", {"user_id": user_id})
        before = ticket.assignee_id
        if before == user_id:
            return ticket
        ticket.assignee_id = user_id
        ticket.updated_at = self.clock.now()
        if ticket.status == TicketStatus.NEW.value and user_id is not None:
            ticket.status = TicketStatus.OPEN.value
        await session.flush()
        await session.refresh(ticket, ["assignee"])
        await self.append(session, ticket, EntryKind.ASSIGNMENT, {"from": before, "to": user_id}, actor.user_id)
        record_change(session, actor, "ticket.assign", "ticket", ticket.id, {"assignee_id": before}, {"assignee_id": user_id})
        self.emit(session, TicketUpdated(ticket.id, ticket.queue, ("assignee_id",), user_id))
        await self.changed(session, ticket, TicketChange("assignment", ("assignee_id",), {"assignee_id": before}))
        return ticket

    async def move_to_queue(
        self, session: AsyncSession, actor: Actor, ticket_id: int, queue: str, note: str = ""
    ) -> Ticket:
        """Put a ticket in another queue, on the timeline (who, from where, why) and in the audit
        log. Any agent may: a ticket in the wrong queue is everyone's to send on. Bulk actions and
        macros call this once per ticket."""
        actor.require(Role.AGENT, Role.SUPERVISOR)
        name = (queue or "").strip()
        if not name:
            raise InvalidInput("choose a queue", {"field": "queue"})
        if len(name) > 80:
            raise InvalidInput("a queue name has at most 80 characters", {"field": "queue"})
        note = (note or "").strip()
        if len(note) > 2000:
            raise InvalidInput("a note may have at most 2,000 characters", {"field": "note"})
        ticket = await self.get(session, actor, ticket_id)
        before = ticket.queue
        if before == name:
            return ticket
        ticket.queue = name
        ticket.updated_at = self.clock.now()
        payload: dict[str, Any] = {"from": before, "to": name}
        if note:
            payload["note"] = note
        await self.append(session, ticket, EntryKind.QUEUE_MOVE, payload, actor.user_id)
        record_change(session, actor, "ticket.queue", "ticket", ticket.id, {"queue": before}, {"queue": name})
        self.emit(session, TicketUpdated(ticket.id, name, ("queue",), ticket.assignee_id))
        await self.changed(session, ticket, TicketChange("fields", ("queue",), {"queue": before}))
        return ticket

    async def hand_over(
        self, session: AsyncSession, actor: Actor, ticket_id: int, queue: str | None, user_id: int | None, note: str = ""
    ) -> Ticket:
        """Send a ticket on: to another queue, to a colleague, or both, in one step (each part
        audited as ``move_to_queue`` and ``assign`` are, with their own rules). At least one is needed;
        the note goes with the move, or on its own when the queue stays."""
        if not (queue or "").strip() and user_id is None:
            raise InvalidInput("choose a queue or a colleague", {"field": "queue"})
        ticket = await self.get(session, actor, ticket_id)
        moving = bool((queue or "").strip()) and (queue or "").strip() != ticket.queue
        if moving:
            ticket = await self.move_to_queue(session, actor, ticket_id, queue or "", note)
        elif note.strip():
            await self.add_note(session, actor, ticket_id, note)
        if user_id is not None:
            ticket = await self.assign(session, actor, ticket_id, user_id)
        return ticket

    async def set_status(self, session: AsyncSession, actor: Actor, ticket_id: int, status: str) -> Ticket:
        if status not in {s.value for s in TicketStatus}:
            raise InvalidInput("unknown status", {"status": status})
        ticket = await self.get(session, actor, ticket_id)
        before = ticket.status
        if before == status:
            return ticket
        now = self.clock.now()
        ticket.status = status
        ticket.updated_at = now
        ticket.solved_at = now if status in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value) else None
        await self.append(session, ticket, EntryKind.STATUS_CHANGE, {"from": before, "to": status}, actor.user_id)
        record_change(session, actor, "ticket.status", "ticket", ticket.id, {"status": before}, {"status": status})
        self.emit(session, TicketUpdated(ticket.id, ticket.queue, ("status",), ticket.assignee_id))
        await self.changed(session, ticket, TicketChange("status", ("status",), {"status": before}))
        return ticket

    async def update_fields(
        self, session: AsyncSession, actor: Actor, ticket_id: int, changes: dict[str, Any]
    ) -> Ticket:
        """Priority, category, queue and subject; validated before anything is written."""
        ticket = await self.get(session, actor, ticket_id)
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "priority":
                clean[key] = parse_priority(value)
            elif key == "category":
                if not isinstance(value, str) or value not in {c.value for c in Category}:
                    raise InvalidInput("unknown category", {"category": value})
                clean[key] = value
            elif key in ("queue", "subject"):
                if not isinstance(value, str) or not value.strip():
                    raise InvalidInput(f"{key} must be a non-empty string")
                clean[key] = value.strip()[:500]
            else:
                raise InvalidInput("field cannot be changed here", {"field": key})
        before = {k: getattr(ticket, k) for k in clean}
        for key, value in clean.items():
            setattr(ticket, key, value)
        ticket.updated_at = self.clock.now()
        record_change(session, actor, "ticket.update", "ticket", ticket.id, before, clean)
        self.emit(session, TicketUpdated(ticket.id, ticket.queue, tuple(clean), ticket.assignee_id))
        kind = "priority" if "priority" in clean else "fields"
        await self.changed(session, ticket, TicketChange(kind, tuple(clean), before))
        return ticket

    async def add_note(self, session: AsyncSession, actor: Actor, ticket_id: int, text: str) -> TimelineEntry:
        text = (text or "").strip()
        if not text:
            raise InvalidInput("a note needs some text")
        if len(text) > 20000:
            raise InvalidInput("a note may have at most 20,000 characters")
        ticket = await self.get(session, actor, ticket_id)
        ticket.updated_at = self.clock.now()
        entry = await self.append(session, ticket, EntryKind.NOTE, {"text": text}, actor.user_id)
        record_change(session, actor, "ticket.note", "ticket", ticket.id, None, {"entry_id": entry.id})
        self.emit(session, TicketUpdated(ticket.id, ticket.queue, ("timeline",), ticket.assignee_id))
        return entry

    async def record_reply(self, session: AsyncSession, ticket: Ticket, actor: Actor) -> None:
        """An agent answered the customer: first response, and the SLA clock reacts."""
        now = self.clock.now()
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.updated_at = now
        if ticket.status == TicketStatus.NEW.value:
            ticket.status = TicketStatus.OPEN.value
        self.emit(session, TicketUpdated(ticket.id, ticket.queue, ("first_response_at",), ticket.assignee_id))
        await self.changed(session, ticket, TicketChange("agent_reply", ("first_response_at",)))

    async def call_answered(self, session: AsyncSession, ticket_id: int, agent_id: int | None) -> None:
        """A call on this ticket was answered: that is a first response; a new ticket goes to the agent who answered."""
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            return
        now = self.clock.now()
        fields: list[str] = []
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            fields.append("first_response_at")
        before = ticket.assignee_id
        if agent_id is not None and before is None and ticket.status == TicketStatus.NEW.value:
            ticket.assignee_id = agent_id
            fields.append("assignee_id")
            await self.append(session, ticket, EntryKind.ASSIGNMENT, {"from": None, "to": agent_id, "why": "answered the call"})
        if ticket.status == TicketStatus.NEW.value:
            ticket.status = TicketStatus.OPEN.value
        if not fields:
            return
        ticket.updated_at = now
        self.emit(session, TicketUpdated(ticket.id, ticket.queue, tuple(fields), ticket.assignee_id))
        if "first_response_at" in fields:
            await self.changed(session, ticket, TicketChange("agent_reply", ("first_response_at",)))
        if "assignee_id" in fields:
            await self.changed(session, ticket, TicketChange("assignment", ("assignee_id",), {"assignee_id": before}))

    async def customer_history(
        self, session: AsyncSession, customer_id: int, limit: int = 10
    ) -> list[tuple[TimelineEntry, Ticket]]:
        """The customer's last interactions across all tickets and channels."""
        return [(row[0], row[1]) for row in (await session.execute(customer_history_query(customer_id, limit))).unique()]

    async def counts(self, session: AsyncSession) -> dict[str, int]:
        stmt = select(Ticket.status, func.count()).group_by(Ticket.status)
        return {status: n for status, n in (await session.execute(stmt)).all()}


__all__ = ["Accepted", "TicketChange", "TicketDesk", "TicketHook"]
