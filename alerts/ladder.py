"""The escalation ladder: fires the due levels of a ticket, each exactly once.

Each fired level becomes an ``Escalation`` row (unique per ticket, target, cycle and
level), its outbox rows (one per channel and recipient, each with a unique
``dedup_key``) and a timeline entry — all in the caller's transaction, together with
the ticket's advanced ``sla_state``/``due_at``. Either all of that commits or none.
Rows are gathered in a ``FiredBatch`` and inserted with one statement per table, so a
scan of hundreds of due tickets costs a handful of round trips.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.events import AlertFired
from alerts.messages import AlertMessages
from alerts.policies import TARGET_LABELS, PolicyStore
from alerts.recipients import Directory, Recipient
from alerts.records import Escalation
from alerts.settings import LevelDefinition
from alerts.sla_clock import SlaState, parse_time
from core.records import EntryKind, OutboxMessage, Ticket, TimelineEntry
from routing.desk import TicketDesk

log = logging.getLogger(__name__)

# Alerts are machine mail: auto-replies (out of office) must not come back as tickets.
ALERT_EMAIL_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def escalation_key(ticket_id: int, target: str, cycle: int, level: int) -> str:
    """Names one rung on one ticket; prefixes the dedup keys of its outbox rows."""
    return f"sla:{ticket_id}:{target}:{cycle}:{level}"


def template_failed_entry(
    ticket_id: int, now: datetime, policy: str, level: int, key: str, failure: dict[str, str]
) -> dict[str, Any]:
    """The timeline row saying a level's template failed and the built-in text went out instead."""
    return {
        "ticket_id": ticket_id,
        "kind": EntryKind.ALERT.value,
        "created_at": now,
        "payload": {
            "event": "template_failed",
            "message": f"The alert template of level {level} failed ({failure['error']}): "
                       "the built-in text was sent instead",
            "policy": policy,
            "level": level,
            "part": failure["part"],
            "error": failure["error"],
        },
        "dedup_key": f"{key}:template:{failure['part']}",
    }


@dataclasses.dataclass(slots=True, frozen=True)
class UnsentLevel:
    """A fired level's messages before its texts are rendered."""

    ticket_id: int
    key: str
    policy: str
    level: int  # 1-based, as people count
    level_definition: LevelDefinition
    context: dict[str, Any]
    recipients: list[Recipient]
    now: datetime


@dataclasses.dataclass(slots=True)
class FiredBatch:
    """The rows one scan transaction writes, inserted together by ``write``."""

    escalations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    outbox: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    timeline: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # (ticket, target, cycle, level) already fired: a ticket whose state was overwritten by a
    # concurrent change skips them instead of failing on the unique constraint forever.
    already: set[tuple[int, str, int, int]] = dataclasses.field(default_factory=set)
    # Fired levels whose texts are still to render: ``EscalationLadder.send`` renders them
    # together and turns them into outbox rows.
    unsent: list[UnsentLevel] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.escalations)

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.escalations), len(self.outbox), len(self.timeline), len(self.unsent)

    def rollback(self, mark: tuple[int, int, int, int]) -> None:
        """Drop the rows added since ``mark`` (one ticket's, when its escalation failed)."""
        del self.escalations[mark[0]:]
        del self.outbox[mark[1]:]
        del self.timeline[mark[2]:]
        del self.unsent[mark[3]:]

    async def write(self, session: AsyncSession) -> None:
        for model, rows in ((Escalation, self.escalations), (OutboxMessage, self.outbox), (TimelineEntry, self.timeline)):
            if rows:
                await session.execute(insert(model), rows)


class EscalationLadder:
    def __init__(self, store: PolicyStore, messages: AlertMessages, desk: TicketDesk) -> None:
        self.store = store
        self.messages = messages
        self.desk = desk

    async def fire_due(
        self, session: AsyncSession, ticket: Ticket, now: datetime, directory: Directory, batch: FiredBatch
    ) -> int:
        """Add the rows of every level of ``ticket`` due by ``now`` to ``batch``; advance its clock.

        The levels' messages wait in ``batch.unsent`` until ``send`` renders them all at once."""
        book = await self.store.book(session)
        policy = book.get(ticket.sla_policy)
        state = SlaState(ticket)
        fired = 0
        while policy is not None:
            step = state.next_step(policy)
            if step is None or step[0] > now:
                break
            at, target, index = step
            clock = state.targets[target]
            cycle = int(clock["cycle"])
            level = policy.levels[index].definition
            deadline = parse_time(clock["deadline"])
            clock["level"] = index + 1
            if (ticket.id, target, cycle, index) in batch.already:
                continue
            recipients = directory.resolve(level.recipients, level.channels, ticket)
            batch.escalations.append({
                "ticket_id": ticket.id,
                "policy": policy.name,
                "target": target,
                "cycle": cycle,
                "level": index,
                "due_at": at,
                "deadline": deadline,
                "fired_at": now,
                "channels": list(level.channels),
                "recipients": [r.as_dict() for r in recipients],
            })
            customer = {"name": ticket.customer.name, "tier": ticket.customer.tier} if ticket.customer else {}
            context = self.messages.context(ticket, customer, target, parse_time(clock["start"]), deadline, now, index)
            key = escalation_key(ticket.id, target, cycle, index)
            batch.unsent.append(UnsentLevel(ticket.id, key, policy.name, index + 1, level, context, recipients, now))
            breached = deadline <= now
            batch.timeline.append({
                "ticket_id": ticket.id,
                "kind": EntryKind.ALERT.value,
                "created_at": now,
                "payload": {
                    "event": "escalated",
                    "message": "{} {} — level {}: {}".format(
                        TARGET_LABELS.get(target, target).capitalize(),
                        "breached" if breached else "at risk",
                        index + 1,
                        ", ".join(f"{r.channel} to {r.name or r.address}" for r in recipients) or "nobody to notify",
                    ),
                    "target": target,
                    "level": index + 1,
                    "breached": breached,
                    "deadline": deadline.isoformat(),
                    "notified": [{"channel": r.channel, "to": r.address, "name": r.name} for r in recipients],
                },
                "dedup_key": key,
            })
            self.desk.emit(session, AlertFired(ticket.id, ticket.queue, target, index + 1, breached))
            fired += 1
            if not recipients:
                log.warning("ticket %s: SLA level %s of %s reached nobody", ticket.id, index + 1, policy.name)
        state.recompute(policy)
        return fired

    async def send(self, batch: FiredBatch) -> None:
        """Render the texts of every level ``fire_due`` added to ``batch`` and queue their messages.

        One call per scan: the texts of hundreds of levels render together instead of one
        round trip to the render workers each (rendering never raises: a failed template
        falls back to the built-in text and says so on the ticket's timeline)."""
        unsent, batch.unsent = batch.unsent, []
        texts = await self.messages.level_texts_many(
            [(u.level_definition, u.context, f"SLA policy {u.policy!r} level {u.level}") for u in unsent])
        for u, said in zip(unsent, texts, strict=True):
            for r in u.recipients:
                batch.outbox.append({
                    "channel": r.channel,
                    "recipient": r.address,
                    "subject": said.subject,
                    "body": said.sms if r.channel == "sms" else said.body,
                    "headers": ALERT_EMAIL_HEADERS if r.channel == "email" else {},
                    "payload": {"kind": "sla", "escalation": u.key, "fallback_email": r.fallback_email, "name": r.name},
                    "ticket_id": u.ticket_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": u.now,
                    "created_at": u.now,
                    "dedup_key": f"{u.key}:{r.channel}:{r.address}",
                })
            for failure in said.failures:
                batch.timeline.append(template_failed_entry(u.ticket_id, u.now, u.policy, u.level, u.key, failure))
