"""The escalation ladder: fires the due levels of a ticket, each exactly once.

Each fired level becomes an ``Escalation`` row (unique per ticket, target, cycle and
level), its outbox rows (one per channel and recipient, each with a unique
``dedup_key``) and a timeline entry — all in the caller's transaction, together with
the ticket's advanced ``sla_state``/``due_at``. Either all of that commits or none.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.events import AlertFired
from alerts.messages import AlertMessages
from alerts.policies import PolicyStore
from alerts.recipients import Directory
from alerts.records import Escalation
from alerts.sla_clock import SlaState, _dt
from core.records import EntryKind, OutboxMessage, Ticket
from routing.desk import TicketDesk

log = logging.getLogger(__name__)


class EscalationLadder:
    def __init__(self, store: PolicyStore, messages: AlertMessages, desk: TicketDesk) -> None:
        self.store = store
        self.messages = messages
        self.desk = desk

    async def fire_due(
        self, session: AsyncSession, ticket: Ticket, now: datetime, directory: Directory
    ) -> list[Escalation]:
        book = await self.store.book(session)
        policy = book.get(ticket.sla_policy)
        state = SlaState(ticket)
        fired: list[Escalation] = []
        while policy is not None:
            step = state.next_step(policy)
            if step is None or step[0] > now:
                break
            at, target, index = step
            clock = state.targets[target]
            level = policy.levels[index].definition
            deadline = _dt(clock["deadline"])
            recipients = directory.resolve(level.recipients, level.channels, ticket)
            esc = Escalation(
                ticket_id=ticket.id,
                policy=policy.name,
                target=target,
                cycle=int(clock["cycle"]),
                level=index,
                due_at=at,
                deadline=deadline,
                fired_at=now,
                channels=list(level.channels),
                recipients=[r.as_dict() for r in recipients],
            )
            session.add(esc)
            await session.flush()
            customer = {"name": ticket.customer.name, "tier": ticket.customer.tier} if ticket.customer else {}
            context = self.messages.context(ticket, customer, target, _dt(clock["start"]), deadline, now, index)
            sms_text = self.messages.sms(level.template, context)
            subject, body = self.messages.email(level.template, level.subject, context)
            for r in recipients:
                session.add(
                    OutboxMessage(
                        channel=r.channel,
                        recipient=r.address,
                        subject=subject,
                        body=sms_text if r.channel == "sms" else body,
                        payload={
                            "kind": "sla",
                            "escalation_id": esc.id,
                            "fallback_email": r.fallback_email,
                            "name": r.name,
                        },
                        ticket_id=ticket.id,
                        next_attempt_at=now,
                        created_at=now,
                        dedup_key=f"sla:{esc.id}:{r.channel}:{r.address}",
                    )
                )
            breached = deadline <= now
            await self.desk.append(
                session,
                ticket,
                EntryKind.ALERT,
                {
                    "event": "escalated",
                    "target": target,
                    "level": index + 1,
                    "breached": breached,
                    "deadline": deadline.isoformat(),
                    "notified": [{"channel": r.channel, "to": r.address, "name": r.name} for r in recipients],
                },
                dedup_key=f"sla:{target}:{esc.cycle}:{index}",
            )
            self.desk._emit(session, AlertFired(ticket.id, ticket.queue, target, index + 1, breached))
            clock["level"] = index + 1
            fired.append(esc)
            if not recipients:
                log.warning("ticket %s: SLA level %s of %s reached nobody", ticket.id, index + 1, policy.name)
        state.recompute(policy)
        return fired
