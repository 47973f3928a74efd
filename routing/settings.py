"""Settings of the default routing policy."""

from __future__ import annotations

from typing import Literal

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
    agent_capacity: int = Field(6, ge=1, le=100, description="units of work an agent holds at once; a live call takes them all")
    weights: dict[str, int] = Field(
        default_factory=lambda: {"email": 1, "sms": 1, "web": 1, "voice": 2},
        description="capacity units a ticket of each channel costs its agent",
    )
    offer_timeout_s: float = Field(30.0, gt=0, le=3600, description="an offer not accepted by then goes to the next agent")
    last_agent_wait_s: float = Field(120.0, ge=0, le=86400, description="how long a ticket waits for the customer's last agent")
    teams: dict[str, list[str]] = Field(
        default_factory=dict,
        description="teams by name, each the logins of its agents: a rule's team action offers the ticket only to them",
    )
    queue_strategies: dict[str, Literal["manual", "round_robin", "least_busy", "skills", "last_agent"]] = Field(
        default_factory=dict, description="assignment per queue (manual, round_robin, least_busy, skills, last_agent)"
    )
