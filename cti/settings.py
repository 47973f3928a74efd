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
    softphone_ws_url: str | None = Field(
        None, pattern=r"^wss?://[^\s'\";]+$",
        description="browser softphones: the PBX's SIP-over-WebSocket URL (wss://pbx.example.com:8089/ws); unset: no browser phones",
    )
    softphone_domain: str | None = Field(None, description="SIP domain of browser phones' URIs (default: the WebSocket URL's host)")
    softphone_auth_file: str = Field(
        "pjsip_softphone.conf", pattern=r"^[A-Za-z0-9_.-]+\.conf$",
        description="the file (included by pjsip.conf) where Frontdesk keeps browser phones' per-session auth objects",
    )
    softphone_offline_grace_s: float = Field(
        4.0, ge=0, le=120,
        description="a browser phone unregistered this long (tab closed, network lost) pauses its agent as 'phone offline'",
    )
