"""The routing seam: every contact passes through ``RoutingPolicy.route`` before it is a ticket.

``RulesPolicy`` runs ops' rules (or the built-in defaults) through the rules engine. The
engine is swapped whole when rules are saved; the channels never change. A rule that fails
on a contact does not lose it: the contact goes to the default queue and the error is on
its ticket's timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, SystemClock
from core.records import Ticket
from routing import history
from routing.calendars import calendar_stamp
from routing.contact import Contact, Decision
from routing.defaults import default_rules
from routing.engine import RuleEngine
from routing.rules import parse_rules
from routing.settings import RoutingSettings
from routing.store import RuleStore

log = logging.getLogger(__name__)


class RoutingPolicy(Protocol):
    async def route(self, session: AsyncSession, contact: Contact) -> Decision: ...

    async def prefetch(self, session: AsyncSession, customer_ids: Collection[int]) -> None:
        """Read ahead for a batch of contacts from these customers (optional: may do nothing)."""

    def opened(self, session: AsyncSession, ticket: Ticket) -> None:
        """The desk opened ``ticket`` in this session (for what ``prefetch`` remembers)."""


class RulesPolicy:
    """Ordered rules → queue, priority, ticket; the built-in defaults until ops save their own."""

    def __init__(self, settings: RoutingSettings, clock: Clock | None = None, engine: RuleEngine | None = None,
                 timezone: str = "UTC") -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = engine or RuleEngine(default_rules(settings), 0, settings)
        self.store = RuleStore(settings, self.clock, timezone)
        self._calendar_stamp: tuple[int, int] | None = None

    def use(self, engine: RuleEngine) -> None:
        """Route with a newly saved rule set from the next contact on."""
        self.engine = engine

    def draft(self, data: Any) -> RuleEngine:
        """An engine for rules not saved yet (replay, ``rules test``); refused with the fields named if invalid."""
        return RuleEngine(parse_rules(data), self.engine.version + 1, self.settings, self.engine.calendars)

    async def refresh(self, session: AsyncSession) -> bool:
        """Take up the live rules if another save (here or in another server process) made a newer version,
        or the business calendars they may name changed.

        The engine is swapped only if no other swap (a save in this process: ``use``) came while this
        one awaited the database; else the engine read before the await would overwrite the newer one.
        """
        stamp = await calendar_stamp(session)
        engine = self.engine
        if await self.store.live_version(session) != engine.version:
            newer = await self.store.engine(session)
        elif stamp != self._calendar_stamp:  # the same rules over the calendars as they are now
            newer = RuleEngine(engine.rule_set, engine.version, engine.settings, await self.store.calendars(session))
        else:
            return False
        if self.engine is not engine:  # swapped meanwhile: the next refresh looks again from that one
            return False
        self.use(newer)
        self._calendar_stamp = stamp
        log.info("routing rules: now version %d", self.engine.version)
        return True

    async def route(self, session: AsyncSession, contact: Contact) -> Decision:
        engine = self.engine
        try:
            return await engine.decide(session, contact, self.clock.now())
        except Exception as exc:  # a rule failing on one contact must not lose the contact
            log.exception("routing rules v%s failed on a %s contact", engine.version, contact.channel)
            decision = engine.base(contact)
            decision.error = f"{type(exc).__name__}: {exc}"[:500]
            decision.reasons.append(f"rules v{engine.version} failed on this contact: sent to the default queue")
            return decision

    async def prefetch(self, session: AsyncSession, customer_ids: Collection[int]) -> None:
        await history.prefetch(session, customer_ids)

    def opened(self, session: AsyncSession, ticket: Ticket) -> None:
        history.opened(session, ticket)
