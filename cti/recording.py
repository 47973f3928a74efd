"""Every call on the customer's ticket timeline and in the ``calls`` table; agent states logged.

A call's timeline entry is created the first time the call is seen (``TicketDesk.accept``
with ``dedup_key=<pbx>:<linkedid>``: the customer's open ticket, or a new one) and its
payload completed when the call ends. An abandoned or timed-out queue call also opens a
callback ticket. An unknown caller's call still lands on a ticket (no customer, the
number as its address). A click-to-dial that never reached the customer (the agent did
not pick up) records nothing: no call, no ticket. Each agent's segment of a transferred
call is kept in ``call_segments``; the call's ``talk_s`` is their total. Whose phone rang
is kept in ``call_offers`` (the console's recent calls), and those agents are told
(``CallRecorded``) which ticket the call is on once it is written.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.customers import find_by_phone
from core.db import Database
from core.events import DomainEvent, EventBus
from core.phones import try_normalize_phone
from core.records import Channel, EntryKind, Ticket, TimelineEntry
from cti.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallRecorded,
    CallRinging,
)
from cti.records import AgentStateLog, CallOffer, CallRecord, CallSegment
from cti.worker import EventWorker
from routing.contact import Contact, call_subject, callback_detail, callback_subject
from routing.desk import TicketDesk

log = logging.getLogger(__name__)

RECORD_BATCH = 50  # events per transaction
# A database restart (seconds) or a short cut: the calls seen meanwhile are recorded once it is
# back (their events wait in the worker's bounded queue). Replaying is safe: a call is found
# by its linkedid, its timeline entry by its dedup key, its segments are written once.
RETRY_UNREACHABLE_S = 120.0


class CallRecorder:
    def __init__(self, db: Database, desk: TicketDesk, bus: EventBus, region: str = "US") -> None:
        self.db = db
        self.desk = desk
        self.bus = bus
        self.region = region
        # Batches of 50: one flush of 200 rows held the event loop ~6 ms, a screen-pop's lookup behind it.
        self.worker = EventWorker("cti-call-recorder", self.handle, handle_batch=self.handle_batch, batch_size=RECORD_BATCH,
                                  retry_unreachable_s=RETRY_UNREACHABLE_S)
        self.yield_to: EventWorker | None = None
        self.queues: dict[str, frozenset[str]] = {}  # per PBX: its queues that are ours

    def subscribe(self) -> None:
        for event_type in (CallRinging, CallAnswered, CallEnded, CallAbandoned, AgentStateChanged):
            self.bus.subscribe(event_type, self.worker.submit)

    async def handle(self, event: DomainEvent) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: list[DomainEvent]) -> None:
        """One transaction for everything queued: at 20 calls/s a commit per event would not keep up.

        Screen-pops go first: while the pop worker has work, recording waits (its queue is
        bounded and its backlog reported; a late pop is a missed call).
        """
        if self.yield_to is not None:
            await self.yield_to.until_idle()
        async with self.db.session() as session:
            for event in events:
                await self._apply(session, event)
            await self.desk.commit_and_publish(session)

    async def _apply(self, session: AsyncSession, event: DomainEvent) -> None:
        if isinstance(event, AgentStateChanged):
            if event.user_id is None:
                return  # a PBX line no user sits at
            session.add(AgentStateLog(user_id=event.user_id, pbx=event.pbx, interface=event.interface,
                                      state=event.state, reason=event.reason[:200], started_at=self.desk.clock.now()))
            return
        if isinstance(event, CallAbandoned):
            if self._ours(event):
                await self._callback(session, event)
            return
        assert isinstance(event, CallRinging | CallAnswered | CallEnded)
        if event.direction == "outbound" and not event.number:
            return  # a PBX application call (e.g. Originate to Wait), no customer on it
        if isinstance(event, CallEnded) and not event.customer_dialled:
            return  # click-to-dial the agent never picked up: the customer was not called
        if isinstance(event, CallRinging) and not event.user_ids:
            return  # no agent of ours sees it ring: recorded when it is answered or ends
        if not self._ours(event):
            return
        record = await self._record(session, event)
        if isinstance(event, CallRinging):
            await self._offered(session, record, event)
        if isinstance(event, CallAnswered):
            record.answered_at = record.answered_at or self.desk.clock.now()
            record.agent_id = event.agent_user_id
            record.interface = event.interface
            record.queue = event.queue or record.queue
            if record.ticket_id is not None:
                await self.desk.call_answered(session, record.ticket_id, event.agent_user_id)
        elif isinstance(event, CallEnded):
            self._complete(record, event)
            await self._segments(session, record, event)
            await self._update_entry(session, record, event)
        await self._tell(session, record, event)

    async def _offered(self, session: AsyncSession, record: CallRecord, event: CallRinging) -> None:
        """Each agent once per call: a queue re-rings the same phones every few seconds."""
        if record.id is None:
            await session.flush()
        known = set((await session.execute(
            select(CallOffer.user_id).where(CallOffer.call_id == record.id, CallOffer.user_id.in_(event.user_ids)))).scalars())
        for user_id in event.user_ids:
            if user_id not in known:
                session.add(CallOffer(call_id=record.id, user_id=user_id, interface=event.interface[:80],
                                      offered_at=self.desk.clock.now()))

    async def _tell(self, session: AsyncSession, record: CallRecord, event: CallRinging | CallAnswered | CallEnded) -> None:
        """The agents the call concerns learn its ticket and that their recent calls changed."""
        users = set(event.user_ids)
        if isinstance(event, CallEnded):
            users.update((await session.execute(select(CallOffer.user_id).where(CallOffer.call_id == record.id))).scalars())
            users.update(s["agent_user_id"] for s in event.segments if s.get("agent_user_id") is not None)
            if record.agent_id is not None:
                users.add(record.agent_id)
        if not users:
            return
        ticket = await session.get(Ticket, record.ticket_id) if record.ticket_id is not None else None
        self.desk.emit(session, CallRecorded(tuple(sorted(users)), record.pbx, record.linkedid, record.ticket_id,
                                             ticket.tag if ticket else None, isinstance(event, CallEnded)))

    def _ours(self, event: CallRinging | CallAnswered | CallEnded | CallAbandoned) -> bool:
        """A call to one of our queues (all, unless configured) or with one of our agents on it."""
        queues = self.queues.get(event.pbx)
        if not queues or event.queue is None or event.queue in queues:
            return True
        return bool(event.user_ids) or getattr(event, "agent_user_id", None) is not None

    async def _record(self, session: AsyncSession, event: CallRinging | CallAnswered | CallEnded) -> CallRecord:
        stmt = select(CallRecord).where(CallRecord.pbx == event.pbx, CallRecord.linkedid == event.linkedid)
        record = (await session.execute(stmt)).scalars().first()
        if record is not None:
            return record
        now = self.desk.clock.now()
        e164 = try_normalize_phone(event.number, self.region) if event.number else None
        customer = await find_by_phone(session, e164) if e164 else None
        record = CallRecord(
            pbx=event.pbx, linkedid=event.linkedid, direction=event.direction, number=e164 or event.number,
            caller_name=getattr(event, "caller_name", "") or "", customer_id=customer.id if customer else None,
            queue=event.queue, started_at=now, ringing_at=now if isinstance(event, CallRinging) else None,
            wait_s=0.0, talk_s=0.0,
        )
        session.add(record)
        contact = Contact(channel=Channel.VOICE.value, customer_id=record.customer_id,
                          customer_tier=customer.tier if customer else None,
                          subject=call_subject(event.direction == "inbound", record.number,
                                               customer.language if customer else None),
                          address=record.number or None, queue_hint=event.queue)
        accepted = await self.desk.accept(session, contact, EntryKind.CALL, _payload(record),
                                          dedup_key=f"{event.pbx}:{event.linkedid}")
        record.ticket_id = accepted.ticket.id
        await session.flush()
        return record

    def _complete(self, record: CallRecord, event: CallEnded) -> None:
        record.direction = event.direction
        record.queue = event.queue or record.queue
        record.outcome = event.outcome
        record.agent_id = event.agent_user_id if event.agent_user_id is not None else record.agent_id
        record.interface = event.interface or record.interface
        record.talk_s = round(event.talk_s, 3)
        record.wait_s = round(event.wait_s, 3)
        record.caller_name = record.caller_name or event.caller_name
        record.ended_during_outage = event.ended_during_outage
        for field in ("joined_at", "ringing_at", "answered_at", "ended_at"):
            value = getattr(event, field)
            if value:
                setattr(record, field, datetime.fromisoformat(value))
        if event.started_at:
            record.started_at = datetime.fromisoformat(event.started_at)

    async def _segments(self, session: AsyncSession, record: CallRecord, event: CallEnded) -> None:
        if record.id is None:
            await session.flush()
        if await session.scalar(select(CallSegment.id).where(CallSegment.call_id == record.id).limit(1)) is not None:
            return  # written before (this end handled again after a lost database connection)
        for position, segment in enumerate(event.segments):
            session.add(CallSegment(
                call_id=record.id, position=position, agent_id=segment.get("agent_user_id"),
                interface=str(segment.get("interface", ""))[:80], talk_s=float(segment.get("talk_s") or 0.0),
                started_at=datetime.fromisoformat(segment["started_at"]),
                ended_at=datetime.fromisoformat(segment["ended_at"]) if segment.get("ended_at") else None,
            ))

    async def _update_entry(self, session: AsyncSession, record: CallRecord, event: CallEnded | None = None) -> None:
        stmt = select(TimelineEntry).where(TimelineEntry.ticket_id == record.ticket_id,
                                           TimelineEntry.dedup_key == f"{record.pbx}:{record.linkedid}")
        entry = (await session.execute(stmt)).scalars().first()
        if entry is not None:  # the routing explanation written when the call was first seen stays
            extra: dict[str, Any] = {"routing": entry.payload["routing"]} if "routing" in entry.payload else {}
            if event is not None and len(event.segments) > 1:  # transferred: who talked how long
                extra["segments"] = [{"agent": s.get("interface"), "agent_id": s.get("agent_user_id"),
                                      "talk_s": s.get("talk_s")} for s in event.segments]
            entry.payload = {**_payload(record), **extra}

    async def _callback(self, session: AsyncSession, event: CallAbandoned) -> None:
        e164 = try_normalize_phone(event.number, self.region) if event.number else None
        customer = await find_by_phone(session, e164) if e164 else None
        language = customer.language if customer else None
        detail = callback_detail(e164 or event.number, event.timeout, event.queue, event.wait_s, language)
        call_ticket = await session.scalar(select(CallRecord.ticket_id).where(CallRecord.pbx == event.pbx, CallRecord.linkedid == event.linkedid))
        contact = Contact(channel=Channel.VOICE.value, customer_id=customer.id if customer else None,
                          customer_tier=customer.tier if customer else None, address=e164 or event.number or None,
                          subject=callback_subject(detail, language), queue_hint=event.queue,
                          attributes={"callback": True, "call_ticket_id": call_ticket, "call_key": f"{event.pbx}:{event.linkedid}"})
        payload = {"callback": True, "number": e164 or event.number, "queue": event.queue,
                   "wait_s": round(event.wait_s, 1), "timeout": event.timeout, "linkedid": event.linkedid}
        await self.desk.accept(session, contact, EntryKind.CALL, payload, dedup_key=f"callback:{event.pbx}:{event.linkedid}")


def _payload(record: CallRecord) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        # caller/agent/duration are the keys the timeline's call entry shows
        "caller": record.number, "agent": record.interface, "duration": round(record.talk_s) if record.ended_at else None,
        "direction": record.direction, "number": record.number, "caller_name": record.caller_name,
        "queue": record.queue, "agent_id": record.agent_id, "interface": record.interface,
        "ringing_at": iso(record.ringing_at), "answered_at": iso(record.answered_at),
        "ended_at": iso(record.ended_at), "talk_s": record.talk_s, "wait_s": record.wait_s,
        "outcome": record.outcome, "pbx": record.pbx, "linkedid": record.linkedid,
        "ended_during_outage": record.ended_during_outage or False,
    }
