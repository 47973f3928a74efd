"""Settings of the PBX links."""

from __future__ import annotations

from pydantic import Field, SecretStr

from core.section import Section


class PbxSettings(Section):
    name: str = "pbx"
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str
    secret: SecretStr
    md5_auth: bool = False
    events: str = Field("on", description="the Events: value sent at login")
    event_filter: list[str] = Field(default_factory=list, description="AMI Filter expressions")
    ping_interval: float = Field(10.0, gt=0)
    ping_timeout: float = Field(5.0, gt=0)
    action_timeout: float = Field(10.0, gt=0)
    dial_ring_s: float = Field(30.0, gt=0, le=300, description="click-to-dial: how long the agent's own phone rings before it counts as not picked up")
    reconnect_max_s: float = Field(1.5, gt=0, le=60, description="longest wait between reconnect attempts after the link drops")
    transfer_timeout: float = Field(
        10.0, gt=0, le=120,
        description="seconds for the PBX to start an attended transfer's consultation call before the agent is told it failed",
    )
    originate_context: str = "agents"
    region: str = Field("US", description="region for numbers without a country code")
    queue_size: int = Field(100_000, ge=100, description="AMI events buffered between reader and tracker")
    crm_url: str | None = Field(None, description="external CRM page opened from a pop, e.g. https://crm/?phone={number}")
    queues: list[str] = Field(
        default_factory=list,
        description="the PBX queues that are this contact center's (calls to others are recorded only when one of our agents takes part); empty = every queue",
    )
