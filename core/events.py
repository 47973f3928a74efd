"""Typed domain events and the bus that carries them.

``EventBus`` is the seam: ``InProcessBus`` delivers inside one process;
``core.cluster_bus.ClusterBus`` also carries events to the other instances (PostgreSQL
LISTEN/NOTIFY or Redis). A subscriber says whether it wants the events of every instance
(``everywhere=True``: what browsers are shown, what is counted for them) or only those
published here (the default: work done once, by the instance where the event happened —
a screen-pop drawn, a call recorded).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, TypeVar

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    """Base of every event; ``name`` is the stable wire name."""

    name: ClassVar[str] = "event"
    registry: ClassVar[dict[str, type[DomainEvent]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "name" in cls.__dict__:
            DomainEvent.registry[cls.name] = cls

    def to_wire(self) -> dict[str, Any]:
        return {"event": self.name, "data": dataclasses.asdict(self)}

    @staticmethod
    def from_wire(message: dict[str, Any]) -> DomainEvent:
        cls = DomainEvent.registry[message["event"]]
        return cls(**message["data"])


@dataclasses.dataclass(frozen=True)
class TicketCreated(DomainEvent):
    name: ClassVar[str] = "ticket.created"
    ticket_id: int
    queue: str
    channel: str
    assignee_id: int | None = None


@dataclasses.dataclass(frozen=True)
class TicketUpdated(DomainEvent):
    name: ClassVar[str] = "ticket.updated"
    ticket_id: int
    queue: str
    fields: tuple[str, ...] = ()
    assignee_id: int | None = None


@dataclasses.dataclass(frozen=True)
class TimelineAppended(DomainEvent):
    name: ClassVar[str] = "ticket.timeline"
    ticket_id: int
    entry_id: int
    kind: str


@dataclasses.dataclass(frozen=True)
class SignedOut(DomainEvent):
    """A person logged out of a browser session: what was handed to that session ends with it
    (the browser softphone's SIP password); their other tabs hear it too."""

    name: ClassVar[str] = "session.signed_out"
    user_ids: tuple[int, ...]


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], Awaitable[None]]


async def run_handler(handler: Handler, event: DomainEvent) -> None:
    """One subscriber's turn: its failure is logged and the next subscriber still hears the event."""
    try:
        await handler(event)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("event handler %r failed for %s", handler, event.name)
Resync = Callable[[], Awaitable[None]]


class EventBus(Protocol):
    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]], *,
                  everywhere: bool = False) -> None: ...

    def on_resync(self, callback: Resync) -> None:
        """``callback`` runs when events from other instances may have been missed (a lost
        listener connection): what it shows must be read again."""

    async def publish(self, event: DomainEvent) -> None: ...


class InProcessBus:
    """Delivers each event to its subscribers in order; a failing handler is logged, not fatal.

    Handlers must be quick (hand work to a queue): publish awaits them in turn.
    Subscribing to ``DomainEvent`` receives everything. One process is the whole cluster:
    ``everywhere`` changes nothing and nothing is ever missed (no resync).
    """

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)
        self.published = 0

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]], *,
                  everywhere: bool = False) -> None:
        self._handlers[event_type].append(handler)

    def on_resync(self, callback: Resync) -> None:
        pass

    async def publish(self, event: DomainEvent) -> None:
        self.published += 1
        for handler in (*self._handlers.get(type(event), ()), *self._handlers.get(DomainEvent, ())):
            await run_handler(handler, event)
