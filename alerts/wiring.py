"""Builds the SLA parts from the services, explicitly; the plugin and tests use it."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from alerts.delivery import SmsDelivery
from alerts.demo import SmsSink
from alerts.ladder import EscalationLadder
from alerts.messages import AlertMessages
from alerts.policies import PolicyStore
from alerts.scanner import SlaScanner
from alerts.service import SlaService
from alerts.settings import SlaSettings
from alerts.sla_clock import SlaClock
from alerts.sms.gateways import SmsGateway, build_gateway
from channels.outbox import OutboxWorker
from core.services import CoreServices
from routing.desk import TicketDesk


class WebAddress(Protocol):
    """Where the console is served: alert messages link to its tickets."""

    @property
    def public_url(self) -> str: ...


class SlaAppSettings(Protocol):
    """What the SLA feature reads of the server's settings."""

    @property
    def sla(self) -> SlaSettings: ...
    @property
    def web(self) -> WebAddress: ...
    @property
    def phone_region(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class SlaServices(CoreServices, Protocol):
    """What the SLA feature is built from (the composition root's container satisfies it)."""

    @property
    def settings(self) -> SlaAppSettings: ...
    @property
    def desk(self) -> TicketDesk: ...


@dataclasses.dataclass(slots=True)
class SlaParts:
    settings: SlaSettings
    store: PolicyStore
    sla_clock: SlaClock
    ladder: EscalationLadder
    scanner: SlaScanner
    service: SlaService
    gateway: SmsGateway
    sms_delivery: SmsDelivery
    sms_worker: OutboxWorker
    sms_sink: SmsSink | None = None  # the demo's stand-in gateway, when it runs


def build_sla(services: SlaServices, gateway: SmsGateway | None = None) -> SlaParts:
    """Everything the SLA feature needs; registers the SLA clock as a ticket hook."""
    settings = services.settings.sla
    region = services.settings.phone_region
    messages = AlertMessages(services.renderer, services.settings.web.public_url, settings.sms.max_segments)
    store = PolicyStore(settings, services.settings.timezone, services.clock, check_level=messages.check_level)
    sla_clock = SlaClock(store, services.clock)
    services.desk.hooks.append(sla_clock)
    ladder = EscalationLadder(store, messages, services.desk)
    gateway = gateway or build_gateway(settings.sms, services.renderer)
    delivery = SmsDelivery(gateway, services.desk, services.clock, settings.sms.concatenate)
    worker = OutboxWorker(
        services.db,
        "sms",
        delivery.deliver,
        services.clock,
        max_attempts=settings.sms.max_attempts,
        retry_base=settings.sms.retry_base_seconds,
        on_sent=delivery.on_sent,
        on_failed=delivery.on_failed,
        after_commit=delivery.publish,
        concurrency=8,
        batch=50,
    )
    scanner = SlaScanner(
        services.db,
        ladder,
        services.desk,
        services.clock,
        region=region,
        batch=settings.scan_batch,
        max_sleep=settings.max_sleep_seconds,
        on_committed=[lambda fired: worker.wake() if fired else None],
    )
    scanner.subscribe(services.bus)
    service = SlaService(services.db, services.desk, store, sla_clock, services.clock, region)
    service.on_deadlines_moved.append(scanner.wake)
    return SlaParts(settings, store, sla_clock, ladder, scanner, service, gateway, delivery, worker)
