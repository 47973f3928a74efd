"""What every package shares: the database, the shared records, the event bus, the clock."""

from core.auth import Actor
from core.clock import Clock, ManualClock, SystemClock
from core.db import Database
from core.errors import FrontdeskError
from core.events import DomainEvent, EventBus, InProcessBus, TicketCreated, TicketUpdated

__all__ = [
    "Actor",
    "Clock",
    "Database",
    "DomainEvent",
    "EventBus",
    "FrontdeskError",
    "InProcessBus",
    "ManualClock",
    "SystemClock",
    "TicketCreated",
    "TicketUpdated",
]
