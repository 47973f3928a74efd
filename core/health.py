"""Health of the long-running parts (PBX links, mailboxes, scanner, outbox), for /readyz."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.clock import utcnow


@dataclasses.dataclass(slots=True)
class ComponentHealth:
    name: str
    ok: bool
    detail: str = ""
    since: str = ""
    # Required components make /readyz fail when not ok; optional ones are only reported,
    # unless they are ``degraded`` (failing again and again): then /readyz says "degraded".
    required: bool = True
    degraded: bool = False


class HealthRegistry:
    def __init__(self) -> None:
        self._components: dict[str, ComponentHealth] = {}

    def set(self, name: str, ok: bool, detail: str = "", required: bool = True, degraded: bool = False) -> None:
        current = self._components.get(name)
        if current and current.ok == ok and current.detail == detail and current.degraded == degraded:
            return
        self._components[name] = ComponentHealth(name, ok, detail, utcnow().isoformat(), required, degraded)

    def remove(self, name: str) -> None:
        self._components.pop(name, None)

    def get(self, name: str) -> ComponentHealth | None:
        return self._components.get(name)

    def ready(self) -> bool:
        return all(c.ok for c in self._components.values() if c.required)

    def degraded(self) -> bool:
        """Serving, but some part keeps failing (an operator should look)."""
        return any(c.degraded and not c.ok for c in self._components.values())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(c) for name, c in sorted(self._components.items())}
