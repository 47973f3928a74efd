"""The shared services every feature is built from, as the features see them.

The composition root (``config.services.Services``) builds one container holding these
and more; a feature package names only what it uses, as a protocol extending
``CoreServices`` with its own settings section, so no feature imports the composition
root (it is the other way round). Read-only properties: a feature never replaces a service.
"""

from __future__ import annotations

from typing import Protocol

from core.clock import Clock
from core.db import Database
from core.events import EventBus
from core.health import HealthRegistry
from core.ownership import Ownership
from core.template_workers import TemplateRenderer


class CoreServices(Protocol):
    @property
    def db(self) -> Database: ...
    @property
    def bus(self) -> EventBus: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def health(self) -> HealthRegistry: ...
    @property
    def renderer(self) -> TemplateRenderer: ...
    @property
    def ownership(self) -> Ownership: ...
