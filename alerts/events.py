"""Domain events of the SLA clock, for the wallboard and the ticket page (all staff)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class AlertFired(DomainEvent):
    name: ClassVar[str] = "sla.alert"
    ticket_id: int
    queue: str
    target: str
    level: int
    breached: bool


@dataclasses.dataclass(frozen=True)
class AlertAcknowledged(DomainEvent):
    name: ClassVar[str] = "sla.acknowledged"
    ticket_id: int
    queue: str
    by: str


@dataclasses.dataclass(frozen=True)
class AlertDeliveryFailed(DomainEvent):
    name: ClassVar[str] = "sla.delivery_failed"
    ticket_id: int
    channel: str
    recipient: str
    error: str
