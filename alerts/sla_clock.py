"""The SLA clock: keeps each ticket's deadlines and next escalation time right.

Runs as a ``routing.TicketHook`` inside the transaction of every ticket change. The
ticket's ``sla_state`` holds one clock per running target::

    {"policy": "email", "chosen": null, "paused_at": null, "cycles": {"next_response": 2},
     "targets": {"first_response": {"start": iso, "paused_s": 0.0, "cycle": 0,
                                     "level": 1, "acked": false, "deadline": iso}}}

The deadline is ``start`` plus the target plus the working time spent paused, so a
pause never shortens what is left, and a policy edit recomputes from the same starts.
``due_at`` is the earliest next ladder step of any clock that is neither paused nor
acknowledged; the scanner reads only that column.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.policies import TARGETS, Policy, PolicyStore
from core.clock import Clock, as_utc
from core.records import Customer, Ticket, TicketStatus
from routing.desk import ROUTED_SLA_POLICY, TicketChange

# Key in ``sla_state`` naming the policy a routing rule chose (``routing.desk`` writes it on a new ticket).
CHOSEN = ROUTED_SLA_POLICY
CLOSED = (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value)
PAUSED = TicketStatus.PENDING_CUSTOMER.value


def _iso(t: datetime) -> str:
    return as_utc(t).isoformat()


def parse_time(s: str) -> datetime:
    return as_utc(datetime.fromisoformat(s))


async def customer_tier(session: AsyncSession, ticket: Ticket) -> str | None:
    if ticket.customer_id is None:
        return None
    state = inspect(ticket)
    if "customer" not in state.unloaded:
        return ticket.customer.tier if ticket.customer else None
    return (await session.execute(select(Customer.tier).where(Customer.id == ticket.customer_id))).scalar()


class SlaState:
    """Edits a copy of ``ticket.sla_state`` and writes it back with the derived columns."""

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket
        self.data: dict[str, Any] = copy.deepcopy(ticket.sla_state or {})
        self.data.setdefault("targets", {})
        self.data.setdefault("cycles", {})

    @property
    def targets(self) -> dict[str, dict[str, Any]]:
        targets: dict[str, dict[str, Any]] = self.data["targets"]
        return targets

    @property
    def paused_at(self) -> datetime | None:
        value = self.data.get("paused_at")
        return parse_time(value) if value else None

    def start(self, target: str, now: datetime) -> None:
        cycle = int(self.data["cycles"].get(target, -1)) + 1
        self.data["cycles"][target] = cycle
        self.targets[target] = {"start": _iso(now), "paused_s": 0.0, "cycle": cycle, "level": 0, "acked": False}

    def stop(self, *targets: str) -> None:
        for target in targets:
            self.targets.pop(target, None)

    def pause(self, now: datetime) -> None:
        if self.paused_at is None:
            self.data["paused_at"] = _iso(now)

    def resume(self, now: datetime, policy: Policy | None) -> None:
        paused_at = self.paused_at
        if paused_at is None:
            return
        if policy is not None:
            spent = max(0.0, policy.working.between(paused_at, now))
            for clock in self.targets.values():
                clock["paused_s"] = float(clock.get("paused_s", 0.0)) + spent
        self.data["paused_at"] = None

    def acknowledge(self) -> list[tuple[str, int]]:
        """Stop every running ladder; returns the (target, cycle) pairs it stopped."""
        stopped = []
        for name, clock in self.targets.items():
            if not clock.get("acked"):
                clock["acked"] = True
                stopped.append((name, int(clock["cycle"])))
        return stopped

    def next_step(self, policy: Policy | None) -> tuple[datetime, str, int] | None:
        """The earliest (time, target, level) still to fire, or None."""
        if policy is None or self.paused_at is not None:
            return None
        best: tuple[datetime, str, int] | None = None
        for name, clock in self.targets.items():
            seconds = policy.target_seconds(name)
            level = int(clock.get("level", 0))
            if seconds is None or clock.get("acked") or level >= len(policy.levels):
                continue
            at = policy.fire_time(policy.levels[level], parse_time(clock["deadline"]), seconds)
            if best is None or at < best[0]:
                best = (at, name, level)
        return best

    def recompute(self, policy: Policy | None) -> None:
        """Deadlines from the starts under ``policy``; then ``due_at`` and the summary columns."""
        t = self.ticket
        self.data["policy"] = policy.name if policy else None
        if policy is not None:
            for name in list(self.targets):
                seconds = policy.target_seconds(name)
                if seconds is None:
                    self.targets.pop(name)
                    continue
                clock = self.targets[name]
                total = seconds + float(clock.get("paused_s", 0.0))
                clock["deadline"] = _iso(policy.working.add(parse_time(clock["start"]), total))
        step = self.next_step(policy)
        t.sla_policy = policy.name if policy else None
        t.sla_paused_at = self.paused_at
        t.due_at = step[0] if step else None
        if step:
            t.sla_target, t.sla_level = step[1], step[2]
        else:
            running = sorted(self.targets, key=lambda n: self.targets[n].get("deadline", ""))
            t.sla_target = running[0] if running else None
            t.sla_level = int(self.targets[running[0]].get("level", 0)) if running else None
        t.sla_state = self.data


class SlaClock:
    """The ``TicketHook``: every ticket change passes through ``ticket_changed``."""

    def __init__(self, store: PolicyStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def policy_for(self, session: AsyncSession, ticket: Ticket) -> Policy | None:
        """The policy a routing rule chose for the ticket (``sla_state["chosen"]``), while it exists;
        else the first whose match fits the ticket."""
        book = await self.store.book(session)
        chosen = book.get((ticket.sla_state or {}).get(CHOSEN))
        if chosen is not None and chosen.definition.enabled:
            return chosen
        return book.select(ticket, await customer_tier(session, ticket))

    async def ticket_changed(self, session: AsyncSession, ticket: Ticket, change: TicketChange) -> None:
        now = self.clock.now()
        policy = await self.policy_for(session, ticket)
        state = SlaState(ticket)
        kind = change.kind
        if kind == "created":
            state.start("first_response", now)
            state.start("resolution", now)
        elif kind == "customer_message":
            state.resume(now, policy)
            waiting = ticket.status not in CLOSED  # a message threaded onto a solved ticket starts none
            if waiting and ticket.first_response_at is not None and "next_response" not in state.targets:
                state.start("next_response", now)
        elif kind == "agent_reply":
            state.stop("first_response", "next_response")
        elif kind == "status":
            before = change.before.get("status")
            if ticket.status in CLOSED:
                state.stop(*TARGETS)
                state.data["paused_at"] = None
            elif before in CLOSED:  # reopened: the customer is waiting again
                state.start("next_response", now)
                state.start("resolution", now)
            if ticket.status == PAUSED:
                state.pause(now)
            elif before == PAUSED:
                state.resume(now, policy)
        state.recompute(policy)

    async def adopt(self, session: AsyncSession, ticket: Ticket) -> None:
        """Start the clocks of an open ticket that has none (made before SLA ran), from its creation."""
        state = SlaState(ticket)
        if state.targets or ticket.status in CLOSED:
            return
        created = as_utc(ticket.created_at)
        if ticket.first_response_at is None:
            state.start("first_response", created)
        state.start("resolution", created)
        if ticket.status == PAUSED:
            state.pause(self.clock.now())
        state.recompute(await self.policy_for(session, ticket))

    async def recompute(self, session: AsyncSession, ticket: Ticket) -> None:
        """After a policy or calendar edit: same starts, new policy, new deadlines."""
        state = SlaState(ticket)
        state.recompute(await self.policy_for(session, ticket))
