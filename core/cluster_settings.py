"""The ``cluster:`` section: how this instance shares its events with the others."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from core.bus_wire import ORIGIN_PATTERN
from core.section import Section


def default_instance_id() -> str:
    """host-pid: unique among the instances of one machine and of several."""
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:48] or "host"
    return f"{host}-{os.getpid()}"


class ClusterSettings(Section):
    instance_id: str = Field(default_factory=default_instance_id,
                             description="this instance's name in events, /readyz and /metrics (default host-pid)")
    backend: Literal["auto", "local", "postgresql", "redis"] = Field(
        "auto", description="auto: redis when redis_url is set, else postgresql (or postgres, pg) on a PostgreSQL "
                           "database, else local")
    redis_url: SecretStr | None = Field(None, description="redis://host:6379/0: events go over Redis pub/sub")
    channel: str = Field("frontdesk_events", pattern=r"^[a-z][a-z0-9_]{0,62}$",
                         description="the NOTIFY / pub-sub channel (one per cluster sharing a Redis)")
    keepalive_s: float = Field(5.0, gt=0, le=300, description="how often an idle listener checks its connection")

    @field_validator("backend", mode="before")
    @classmethod
    def _backend_aliases(cls, value: object) -> object:
        """``postgres`` and ``pg`` are what people write for PostgreSQL."""
        return "postgresql" if isinstance(value, str) and value.lower() in ("postgres", "pg") else value

    @field_validator("instance_id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not ORIGIN_PATTERN.match(value):
            raise ValueError("1 to 64 letters, digits and . _ : @ - (no spaces)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("a redis://, rediss:// or unix:// URL")
        return value

    def chosen_backend(self, database_url: str) -> str:
        """local, postgresql or redis, as ``backend`` and the database decide."""
        if self.backend != "auto":
            return self.backend
        if self.redis_url is not None:
            return "redis"
        return "postgresql" if database_url.startswith("postgresql") else "local"

    def problems(self, database_url: str) -> list[str]:
        """What cannot work with this database (checked with the whole settings)."""
        found = []
        if self.backend == "postgresql" and not database_url.startswith("postgresql"):
            found.append("cluster.backend: postgresql needs a PostgreSQL database_url (SQLite serves one instance: use local)")
        if self.backend == "redis" and self.redis_url is None:
            found.append("cluster.backend: redis needs cluster.redis_url")
        return found
