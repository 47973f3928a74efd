"""Work pushed to agents: one presence and one capacity across calls and email, offers with a timeout.

A ticket a rule gave to a team (``routing.teams``: a name and its agents' logins) is offered
only to that team's agents. A ticket whose routing chose a push strategy (round robin, least busy, skills, or last agent
in a queue that pushes work: offered to the customer's last agent first, to others after
``last_agent_wait_s``) waits as a ``WorkItem``. The assigner offers the best waiting item (higher priority and VIP first, then
the oldest) to an agent who is ready and has the capacity for it: each open ticket costs its
channel's weight, a live call takes the whole capacity (an agent on a call is offered no
email). An offer must be accepted within the push timeout, else it goes to the next agent and
the miss is recorded; declines are recorded too. An item is offered to one agent at a time:
each pass locks the agents it offers to (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two
assigners, in one process or several, work disjoint agents) and takes an item only if it is
still waiting (a compare-and-set update); on SQLite the passes of one database run one at a
time (SQLite has one writer; run one server process on it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, cast

from sqlalchemy import Row, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.clock import Clock, as_utc
from core.db import Database
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import DomainEvent
from core.records import OPEN_STATUSES, Role, Ticket, User
from core.supervisor import SupervisedTask
from routing.desk import TicketDesk
from routing.records import Offer, WorkItem
from routing.settings import RoutingSettings

log = logging.getLogger(__name__)

PRESENCE_STATES = ("ready", "paused", "on-call", "wrap-up", "offline")
PRESENCE_CHOICES = ("ready", "paused", "offline")  # what an agent chooses; the others come from the PBX
BATCH = 200  # waiting items looked at per pass
PASS_GAP_S = 0.002
FULL_LOOK_S = 1.0  # how often every ready agent is looked at again, at capacity or not
EXPIRE_EVERY_S = 0.25
LOCK_WITHOUT_READ = 16  # agents a pass locks before reading their load; more: read first, lock those with room
_SQLITE_PASSES: dict[str, asyncio.Lock] = {}  # per database: one assigner pass at a time


@dataclasses.dataclass(frozen=True)
class OfferMade(DomainEvent):
    """To the one agent offered the ticket: their console shows it (with a sound) until answered."""

    name: ClassVar[str] = "routing.offer"
    user_ids: tuple[int, ...]
    offer_id: int
    ticket_id: int
    subject: str
    queue: str
    priority: int
    expires_at: str


@dataclasses.dataclass(frozen=True)
class OfferEnded(DomainEvent):
    name: ClassVar[str] = "routing.offer_ended"
    user_ids: tuple[int, ...]
    offer_id: int
    ticket_id: int
    outcome: str  # accepted | declined | missed | withdrawn


@dataclasses.dataclass(frozen=True)
class PresenceChosen(DomainEvent):
    """An agent set their own state from the console (ready, paused, offline): every instance's
    assigner must know it, whichever instance took the request. Addressed to no browser."""

    name: ClassVar[str] = "routing.presence"
    user_id: int
    state: str
    reason: str = ""
    user_ids: tuple[int, ...] = ()


def presence_of_pbx_state(state: str) -> str:
    """The presence an agent has when the PBX reports their lines in ``state``."""
    return "offline" if state == "logged-out" else state if state in PRESENCE_STATES else "paused"


def skill_level(skills: list[object] | None, wanted: str) -> int:
    """An agent's level in a skill written ``billing`` (level 1) or ``billing:3``; 0 without it."""
    best = 0
    for entry in skills or ():
        name, _, level = str(entry).partition(":")
        if name.strip().casefold() == wanted.casefold():
            best = max(best, int(level) if level.strip().isdigit() else 1)
    return best


class Presence:
    """One state per agent for the console and the PBX: the PBX's line state and the agent's own choice.

    Kept in this process (fed by the PBX's agent-state events and the console); an agent is
    offered work only while ``ready``.
    """

    def __init__(self) -> None:
        self.states: dict[int, str] = {}
        self.reasons: dict[int, str] = {}
        self.changed = asyncio.Event()

    def set(self, user_id: int, state: str, reason: str = "") -> None:
        if state not in PRESENCE_STATES:
            raise InvalidInput(f"state must be one of {', '.join(PRESENCE_STATES)}", {"state": state})
        self.states[user_id] = state
        self.reasons[user_id] = reason[:200]
        self.changed.set()

    async def on_event(self, event: DomainEvent) -> None:
        """The agent's own choice (``PresenceChosen``, from any instance), or the PBX's view of an
        agent (``cti.agent_state``), read by name: routing does not import cti."""
        if isinstance(event, PresenceChosen):
            self.set(event.user_id, event.state, event.reason)
            return
        if event.name != "cti.agent_state":
            return
        user_id, state = getattr(event, "user_id", None), str(getattr(event, "state", ""))
        if user_id is None:
            return
        self.set(user_id, presence_of_pbx_state(state), str(getattr(event, "reason", "")))

    def ready(self) -> list[int]:
        return [user for user, state in self.states.items() if state == "ready"]


class Assignment:
    def __init__(self, db: Database, desk: TicketDesk, clock: Clock, settings: RoutingSettings, presence: Presence) -> None:
        self.db = db
        self.desk = desk
        self.clock = clock
        self.settings = settings
        self.presence = presence
        self.wake = asyncio.Event()
        # Agents this process saw at capacity in its last pass: skipped until something frees
        # theirs (``freed``) or the next full look (every ``FULL_LOOK_S``: a save in another
        # server process frees capacity this one hears nothing of).
        self.full: set[int] = set()
        self._full_since = 0.0
        self._freed_in_pass: set[int] | None = set()  # freed since the running pass began; None: anyone
        self._expired_at = 0.0

    def freed(self, agents: Iterable[int] | None = None) -> None:
        """Capacity may have freed for these agents (None: for anyone): look at them in the next pass."""
        if agents is None:
            self.full.clear()
            self._freed_in_pass = None
        else:
            self.full.difference_update(agents)
            if self._freed_in_pass is not None:
                self._freed_in_pass.update(agents)
        self.wake.set()

    def _mark_full(self, agents: Iterable[int]) -> None:
        """Remember agents at capacity, unless their capacity freed while the pass read it (a commit it may not have seen)."""
        freed = self._freed_in_pass
        if freed is not None:
            self.full.update(a for a in agents if a not in freed)

    # -- the assigner ------------------------------------------------------------------
    async def run(self, task: SupervisedTask) -> None:
        while True:
            self.wake.clear()  # before the pass: a wake during it means another pass
            self.presence.changed.clear()
            clock = time.monotonic()
            full_look = clock - self._full_since >= FULL_LOOK_S
            if full_look:
                self._full_since = clock
            expire = clock - self._expired_at >= EXPIRE_EVERY_S  # offer timeouts are tens of seconds
            if expire:
                self._expired_at = clock
            await self.run_once(full_look=full_look, expire=expire)
            task.healthy()
            waiters = [asyncio.ensure_future(e.wait()) for e in (self.wake, self.presence.changed)]
            try:
                await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            await asyncio.sleep(PASS_GAP_S)  # a burst of wakes is one pass

    async def run_once(self, full_look: bool = True, expire: bool = True) -> int:
        """Expire overdue offers, then offer waiting work to agents with room for it. Returns offers made.

        ``full_look=False`` skips the agents the last passes saw at capacity (see ``freed``).
        """
        lock = _SQLITE_PASSES.setdefault(self.db.url, asyncio.Lock()) if self.db.is_sqlite else None
        if lock is not None:
            await lock.acquire()
        try:
            if full_look:
                self.full.clear()
            self._freed_in_pass = set()
            async with self.db.session() as session:
                if expire:
                    await self._expire(session)
                made = await self._offer(session)
                await self.desk.commit_and_publish(session)
        finally:
            if lock is not None:
                lock.release()
        return made

    async def _expire(self, session: AsyncSession) -> None:
        now = self.clock.now()
        stmt = (select(WorkItem).where(WorkItem.state == "offered", WorkItem.offer_expires_at <= now)
                .with_for_update(skip_locked=True))
        for work in (await session.execute(stmt)).scalars():
            await self._close_offer(session, work, "missed")

    async def _close_offer(self, session: AsyncSession, work: WorkItem, outcome: str) -> None:
        offer = (await session.execute(select(Offer).where(Offer.work_id == work.id, Offer.outcome.is_(None))
                                       .order_by(Offer.id.desc()).limit(1))).scalars().first()
        if offer is not None:
            offer.outcome, offer.answered_at = outcome, self.clock.now()
            self.desk.emit(session, OfferEnded((offer.agent_id,), offer.id, offer.ticket_id, outcome))
        work.state, work.offered_to, work.offer_expires_at = "waiting", None, None

    async def load(self, session: AsyncSession, agents: list[int]) -> dict[int, int]:
        """Capacity units in use per agent: open tickets by their channel's weight, and open offers."""
        weights = self.settings.weights
        used: dict[int, int] = defaultdict(int)
        stmt = (select(Ticket.assignee_id, Ticket.channel, func.count()).where(Ticket.assignee_id.in_(agents),
                Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.assignee_id, Ticket.channel))
        for agent, channel, count in await session.execute(stmt):
            if agent is not None:
                used[agent] += weights.get(channel, 1) * count
        # Open offers through the offers' (agent, outcome) index: a few rows per agent, not every offered item.
        offered = (select(Offer.agent_id, func.sum(WorkItem.weight)).join(WorkItem, WorkItem.id == Offer.work_id)
                   .where(Offer.agent_id.in_(agents), Offer.outcome.is_(None), WorkItem.state == "offered")
                   .group_by(Offer.agent_id))
        for agent, weight in await session.execute(offered):
            if agent is not None:
                used[agent] += int(weight or 0)
        return used

    async def _offer(self, session: AsyncSession) -> int:
        capacity = self.settings.agent_capacity
        lightest = min(self.settings.weights.values(), default=1)
        full = self.full
        # Agents seen at capacity are skipped: when capacity frees for one agent among hundreds
        # at capacity, the pass is about that one agent.
        roomy = [a for a in self.presence.ready() if a not in full]
        if not roomy:
            return 0
        # Most passes (an agent's phone rang, answered, hung up) find nothing waiting: one
        # indexed read then, not a read of every ready agent's load on the event loop.
        waiting = select(WorkItem.id).where(WorkItem.state == "waiting").limit(1)
        if (await session.execute(waiting)).first() is None:
            return 0
        if len(roomy) > LOCK_WITHOUT_READ:
            # Many agents (a full look): read their load first, without locks, and lock only those
            # with room. Locking hundreds of agents at capacity made the full look the tail of
            # every offer that waited on it.
            before = await self.load(session, roomy)
            self._mark_full(a for a in roomy if before.get(a, 0) + lightest > capacity)
            roomy = [a for a in roomy if before.get(a, 0) + lightest <= capacity]
            if not roomy:
                return 0
        # Lock the agents this pass may offer to; another assigner skips them (PostgreSQL).
        # Their load is read again under the lock: another pass may have offered to them meanwhile.
        agent_rows = (select(User.id, User.skills, User.login).where(User.id.in_(roomy), User.active)
                      .with_for_update(skip_locked=True, of=User))
        locked = (await session.execute(agent_rows)).all()
        skills_of: dict[int, list[object] | None] = {agent: skills for agent, skills, _login in locked}
        if not skills_of:
            return 0
        teams = self._team_members({login: agent for agent, _skills, login in locked})
        agents = sorted(skills_of)
        used = await self.load(session, agents)
        last_offer: dict[int, int] = {agent: offer for agent, offer in await session.execute(
            select(Offer.agent_id, func.max(Offer.id)).where(Offer.agent_id.in_(agents)).group_by(Offer.agent_id))}
        self._mark_full(a for a in agents if used.get(a, 0) + lightest > capacity)
        room = sum(max(capacity - used.get(a, 0), 0) for a in agents)
        made = 0
        # A few items per unit of room first (capacity freed for one agent: a short read), the
        # whole batch only if those could not fill the room (skills, items the agent declined).
        for limit in dict.fromkeys((min(BATCH, 8 + 4 * room), BATCH)):
            stmt = (select(WorkItem, Ticket.assignee_id, Ticket.status, Ticket.subject)
                    .join(Ticket, Ticket.id == WorkItem.ticket_id)
                    .where(WorkItem.state == "waiting")
                    .order_by(WorkItem.priority.desc(), WorkItem.created_at, WorkItem.id)
                    .limit(limit).with_for_update(skip_locked=True, of=WorkItem))
            rows = (await session.execute(stmt)).all()
            if rows:
                made += await self._offer_rows(session, rows, agents, used, last_offer, skills_of, teams)
            room = sum(max(capacity - used.get(a, 0), 0) for a in agents)
            if len(rows) < limit or room == 0:
                break
        self._mark_full(a for a in agents if used.get(a, 0) + lightest > capacity)
        return made

    async def _offer_rows(self, session: AsyncSession, rows: Sequence[Row[WorkItem, int | None, str, str]],
                          agents: list[int], used: dict[int, int], last_offer: dict[int, int],
                          skills_of: dict[int, list[object] | None], teams: dict[str, frozenset[int]]) -> int:
        capacity = self.settings.agent_capacity
        tried = {(work_id, agent) for work_id, agent in await session.execute(
            select(Offer.work_id, Offer.agent_id).where(Offer.work_id.in_([w.id for w, *_ in rows])))}
        now = self.clock.now()
        made = 0
        for work, assignee, status, subject in rows:
            if assignee is not None or status not in OPEN_STATUSES:
                work.state = "closed"  # taken by hand, or solved, while it waited
                continue
            eligible = [a for a in agents if used[a] + work.weight <= capacity and (work.id, a) not in tried
                        and (work.skill is None or skill_level(skills_of[a], work.skill) > 0)
                        and (work.team is None or a in teams.get(work.team, ()))]
            if not eligible:
                continue
            agent = self._pick(work, eligible, used, last_offer, skills_of, now)
            if agent is None:
                continue  # waiting for the customer's last agent a while longer
            taken = cast(CursorResult[Any], await session.execute(update(WorkItem).where(WorkItem.id == work.id, WorkItem.state == "waiting")
                                          .values(state="offered").execution_options(synchronize_session=False)))
            if taken.rowcount != 1:  # another assigner offered it meanwhile
                continue
            offer = Offer(work_id=work.id, ticket_id=work.ticket_id, agent_id=agent, offered_at=now)
            session.add(offer)
            await session.flush()
            work.state, work.offered_to = "offered", agent
            work.offer_expires_at = now + timedelta(seconds=self.settings.offer_timeout_s)
            used[agent] += work.weight
            last_offer[agent] = offer.id
            made += 1
            self.desk.emit(session, OfferMade((agent,), offer.id, work.ticket_id, subject, work.queue, work.priority // 2,
                                              work.offer_expires_at.isoformat()))
        return made

    def _team_members(self, agent_of_login: dict[str, int]) -> dict[str, frozenset[int]]:
        """Each team (``routing.teams``: logins) as the ids of its agents among those this pass locked."""
        return {team: frozenset(agent_of_login[login] for login in logins if login in agent_of_login)
                for team, logins in self.settings.teams.items()}

    def _pick(self, work: WorkItem, eligible: list[int], used: dict[int, int], last_offer: dict[int, int],
              skills_of: dict[int, list[object] | None], now: datetime) -> int | None:
        if work.strategy == "last_agent" and work.preferred_agent_id is not None:
            if work.preferred_agent_id in eligible:
                return work.preferred_agent_id
            if now - as_utc(work.created_at) < timedelta(seconds=self.settings.last_agent_wait_s):
                return None
        if work.strategy == "round_robin":  # the agent offered work longest ago (or never) first
            return min(eligible, key=lambda a: (last_offer.get(a, 0), a))
        if work.strategy == "skills" and work.skill:
            return min(eligible, key=lambda a: (-skill_level(skills_of[a], work.skill or ""), used[a], last_offer.get(a, 0), a))
        return min(eligible, key=lambda a: (used[a], last_offer.get(a, 0), a))  # least busy

    # -- what agents do ----------------------------------------------------------------
    async def _open_offer(self, session: AsyncSession, actor: Actor, offer_id: int) -> tuple[Offer, WorkItem]:
        offer = await session.get(Offer, offer_id)
        if offer is None:
            raise NotFound("no such offer", {"id": offer_id})
        if offer.agent_id != actor.user_id:
            raise Forbidden("this offer was made to someone else")
        work = (await session.execute(select(WorkItem).where(WorkItem.id == offer.work_id).with_for_update())).scalars().one()
        expired = work.offer_expires_at is not None and as_utc(work.offer_expires_at) <= self.clock.now()
        if offer.outcome is not None or work.state != "offered" or work.offered_to != actor.user_id or expired:
            raise Conflict("this offer is no longer open", {"id": offer_id})
        return offer, work

    async def accept(self, session: AsyncSession, actor: Actor, offer_id: int) -> Ticket:
        offer, work = await self._open_offer(session, actor, offer_id)
        offer.outcome, offer.answered_at = "accepted", self.clock.now()
        work.state = "assigned"
        self.desk.emit(session, OfferEnded((offer.agent_id,), offer.id, offer.ticket_id, "accepted"))
        return await self.desk.assign(session, actor, offer.ticket_id, actor.user_id)

    async def decline(self, session: AsyncSession, actor: Actor, offer_id: int) -> None:
        offer, work = await self._open_offer(session, actor, offer_id)
        await self._close_offer(session, work, "declined")
        self.freed([offer.agent_id])  # (woken again once committed: the OfferEnded event)

    async def overview(self, session: AsyncSession, actor: Actor) -> dict[str, object]:
        """What supervisors watch: per queue, items waiting / offered / assigned; each agent's state and load."""
        actor.require(Role.SUPERVISOR)
        queues: dict[str, dict[str, int]] = defaultdict(lambda: {"waiting": 0, "offered": 0, "assigned": 0})
        for queue, state, count in await session.execute(
                select(WorkItem.queue, WorkItem.state, func.count()).where(WorkItem.state != "closed")
                .group_by(WorkItem.queue, WorkItem.state)):
            queues[queue][state] = count
        agents = sorted(self.presence.states)
        used = await self.load(session, agents) if agents else {}
        outcomes = {str(outcome): count for outcome, count in await session.execute(
            select(Offer.outcome, func.count()).where(Offer.outcome.is_not(None)).group_by(Offer.outcome))}
        return {"queues": dict(queues), "offers": outcomes, "capacity": self.settings.agent_capacity,
                "agents": [{"user_id": a, "state": self.presence.states[a], "used": used.get(a, 0),
                            "at_capacity": used.get(a, 0) >= self.settings.agent_capacity} for a in agents]}

    async def my_offers(self, session: AsyncSession, actor: Actor) -> list[dict[str, object]]:
        stmt = (select(Offer, WorkItem, Ticket.subject).join(WorkItem, WorkItem.id == Offer.work_id)
                .join(Ticket, Ticket.id == Offer.ticket_id)
                .where(Offer.agent_id == actor.user_id, Offer.outcome.is_(None), WorkItem.state == "offered"))
        return [{"offer_id": o.id, "ticket_id": o.ticket_id, "subject": subject, "queue": w.queue,
                 "expires_at": as_utc(w.offer_expires_at).isoformat() if w.offer_expires_at else None}
                for o, w, subject in (await session.execute(stmt)).all()]
