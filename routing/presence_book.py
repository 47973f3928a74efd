"""Agents' own presence choices (ready, paused, offline), kept on their user row.

Each server process keeps presence in memory (``routing.assignment.Presence``) and hears
every instance's changes over the bus; but a process started later (a replacement after a
crash, a rolling restart) heard none of the earlier choices, and would offer nothing to an
agent who chose "ready" before it started. So a choice is saved before it is announced, and
a process reads the saved choices when it starts and after its bus missed events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from core.clock import Clock
from core.db import Database
from core.errors import InvalidInput
from core.events import EventBus
from core.records import User
from routing.assignment import PRESENCE_CHOICES, Presence, PresenceChosen

# Reading again after a resync: choices saved since the last read, with this much overlap
# (clocks of two server machines differ a little).
OVERLAP = timedelta(seconds=30)


class PresenceBook:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, presence: Presence) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.presence = presence
        self._read_at: datetime | None = None

    async def choose(self, user_id: int, state: str, reason: str = "") -> None:
        """The agent's own choice: saved, then told to every instance's assigner."""
        if state not in PRESENCE_CHOICES:
            raise InvalidInput(f"state must be one of {', '.join(PRESENCE_CHOICES)}", {"state": state})
        reason = reason[:200]
        async with self.db.transaction() as session:
            await session.execute(update(User).where(User.id == user_id).values(
                presence_state=state, presence_reason=reason, presence_at=self.clock.now()))
        await self.bus.publish(PresenceChosen(user_id, state, reason))

    async def read(self) -> int:
        """Apply the saved choices (all of them the first time, then those saved since); how many."""
        started = self.clock.now()
        stmt = select(User.id, User.presence_state, User.presence_reason).where(
            User.presence_state.is_not(None), User.active.is_(True))
        if self._read_at is not None:
            stmt = stmt.where(User.presence_at >= self._read_at - OVERLAP)
        async with self.db.session() as session:
            rows = (await session.execute(stmt)).all()
        for user_id, state, reason in rows:
            if state in PRESENCE_CHOICES:
                self.presence.set(user_id, state, reason or "")
        self._read_at = started
        return len(rows)
