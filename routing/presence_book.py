"""Agents' presence for a server process that starts late: their own choices (ready, paused,
offline), kept on their user row, and the PBX's latest word on their lines.

Each server process keeps presence in memory (``routing.assignment.Presence``) and hears
every instance's changes over the bus; but a process started later (a replacement after a
crash, a rolling restart) heard none of the earlier ones, and would offer nothing to an
agent who chose "ready" before it started, or email to one still on a call. So a choice is
saved before it is announced, and a process reads, when it starts and after its bus missed
events, each agent's newest word: their choice or the PBX's, whichever came later (as the
live events would have left it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.clock import Clock, as_utc
from core.db import Database
from core.errors import InvalidInput
from core.events import EventBus
from core.records import Role, User
from routing.assignment import PRESENCE_CHOICES, Presence, PresenceChosen, presence_of_pbx_state

# Reading again after a resync: what was saved since the last read, with this much overlap
# (clocks of two server machines differ a little).
OVERLAP = timedelta(seconds=30)

# The PBX's newest state per agent: user id -> (state, reason, when); ``since`` limits it to newer ones.
PbxStates = Callable[[AsyncSession, datetime | None], Awaitable[dict[int, tuple[str, str, datetime]]]]


class PresenceBook:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, presence: Presence,
                 pbx_states: PbxStates | None = None) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.presence = presence
        self.pbx_states = pbx_states  # given by the composition root when a PBX is connected
        self._read_at: datetime | None = None

    async def choose(self, actor: Actor, state: str, reason: str = "") -> None:
        """The agent's own choice: saved, then told to every instance's assigner."""
        actor.require(Role.AGENT)
        user_id = actor.user_id
        if user_id is None:
            raise InvalidInput("a state is kept for people, not for API tokens without a user")
        if state not in PRESENCE_CHOICES:
            raise InvalidInput(f"state must be one of {', '.join(PRESENCE_CHOICES)}", {"state": state})
        reason = reason[:200]
        async with self.db.transaction() as session:
            await session.execute(update(User).where(User.id == user_id).values(
                presence_state=state, presence_reason=reason, presence_at=self.clock.now()))
        await self.bus.publish(PresenceChosen(user_id, state, reason))

    async def read(self) -> int:
        """Apply each agent's newest saved word (all of them the first time, then those saved
        since the last read); how many agents were set."""
        started = self.clock.now()
        since = None if self._read_at is None else self._read_at - OVERLAP
        newest: dict[int, tuple[datetime, str, str]] = {}
        stmt = select(User.id, User.presence_state, User.presence_reason, User.presence_at).where(
            User.presence_state.is_not(None), User.active.is_(True))
        if since is not None:
            stmt = stmt.where(User.presence_at >= since)
        async with self.db.session() as session:
            for user_id, state, reason, at in await session.execute(stmt):
                if state in PRESENCE_CHOICES:
                    newest[user_id] = (as_utc(at) if at else started, state, reason or "")
            if self.pbx_states is not None:
                for user_id, (state, reason, at) in (await self.pbx_states(session, since)).items():
                    if user_id not in newest or at > newest[user_id][0]:
                        newest[user_id] = (at, presence_of_pbx_state(state), reason)
        for user_id, (_at, state, reason) in newest.items():
            self.presence.set(user_id, state, reason)
        self._read_at = started
        return len(newest)
