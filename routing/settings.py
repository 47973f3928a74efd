"""Settings of the default routing policy."""

from __future__ import annotations

from pydantic import Field

from core.section import Section


class RoutingSettings(Section):
    queues: dict[str, str] = Field(
        default_factory=lambda: {"voice": "phone", "email": "email", "sms": "email", "web": "email"},
        description="queue per channel",
    )
    vip_priority: int = Field(2, ge=0, le=3, description="priority given to VIP-tier customers")
    default_priority: int = Field(1, ge=0, le=3)
    prefer_last_agent: bool = True
