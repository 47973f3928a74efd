"""Settings of SLA policies, business calendars, the escalation ladder and the SMS gateway.

The policies and calendars here are the defaults seeded into the database on first
start; after that ops edit them in the admin pages (audit-logged) and the database wins.
A calendar added to this file later is added to the database at the next start (one
already there keeps its browser edits).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from core.section import Section

_AT = re.compile(r"^(?:(\d{1,3}(?:\.\d+)?)%|\+(\d+(?:\.\d+)?)([smhd]?))$")
_RECIPIENT = re.compile(r"^(assignee|queue_agents|supervisors|user:.+|phone:\+?[\d ()-]{5,}|email:[^@\s]+@[^@\s]+)$")


def level_offset(at: str) -> tuple[str, float]:
    """``"80%"`` → ("percent", 0.8); ``"+1h"`` → ("after", 3600.0); ``"+0"`` is the breach."""
    m = _AT.match(at.strip())
    if not m:
        raise ValueError("level 'at' is a share of the target like 80% or a time after breach like +1h")
    if m.group(1) is not None:
        return "percent", float(m.group(1)) / 100
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(3)]
    return "after", float(m.group(2)) * unit


class LevelDefinition(Section):
    """One rung of the ladder: when, through which channels, to whom, saying what."""

    at: str = Field(description="80% of the target, or +0 (the breach), +1h, +30m after it")
    channels: list[Literal["sms", "email"]] = Field(min_length=1)
    recipients: list[str] = Field(
        min_length=1,
        description="assignee, queue_agents, supervisors, user:LOGIN, phone:+E164, email:ADDRESS",
    )
    template: str = Field(default="", description="Jinja2 (sandboxed) message; empty uses the built-in text")
    subject: str = Field(default="", description="Jinja2 email subject; empty uses the built-in subject")
    working_hours: bool = Field(default=False, description="hold this level until the calendar is open (non-urgent)")

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: str) -> str:
        level_offset(value)
        return value.strip()

    @field_validator("recipients")
    @classmethod
    def _check_recipients(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _RECIPIENT.match(item.strip()):
                raise ValueError(f"unknown recipient {item!r}")
        return [v.strip() for v in value]


class PolicyMatch(Section):
    """Every listed condition must hold; an empty list matches anything."""

    channel: list[str] = Field(default_factory=list)
    queue: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list, description="low, normal, high, urgent")
    tier: list[str] = Field(default_factory=list, description="customer tier: vip, standard, new")
    category: list[str] = Field(default_factory=list)
    callback: bool | None = Field(default=None, description="true: only callback tickets (voice, subject starting 'Callback'); false: none"
    )


class PolicyDefinition(Section):
    name: str = Field(min_length=1, max_length=80)
    position: int = Field(default=100, description="policies are tried in ascending position; first match wins")
    enabled: bool = True
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    calendar: str | None = Field(default=None, description="business calendar name; none counts calendar time")
    first_response_minutes: float | None = Field(default=None, gt=0)
    next_response_minutes: float | None = Field(default=None, gt=0)
    resolution_minutes: float | None = Field(default=None, gt=0)
    levels: list[LevelDefinition] = Field(default_factory=list)


class CalendarDefinition(Section):
    name: str = Field(min_length=1, max_length=80)
    timezone: str = Field(default="", description="IANA zone, e.g. Asia/Shanghai; empty uses the server's")
    hours: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    holidays: list[str] = Field(default_factory=list, description="ISO dates")


class SmsHttpSettings(Section):
    """A generic HTTP gateway: the request is built from templates, success is a rule."""

    url: str = ""
    method: Literal["GET", "POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = Field(default='{"to": {{ to|tojson }}, "from": {{ sender|tojson }}, "text": {{ text|tojson }}, "reference": {{ reference|tojson }}}',
        description="Jinja2 template with to, sender, text, reference",
    )
    content_type: str = "application/json"
    success_status: list[int] = Field(default_factory=lambda: [200, 201, 202])
    success_body: str | None = Field(default=None, description="regular expression the response must contain")
    timeout: float = Field(default=10.0, gt=0)


class SmsTwilioSettings(Section):
    account_sid: str = ""
    auth_token: SecretStr = SecretStr("")
    from_number: str = ""
    api_base: str = "https://api.twilio.com"
    timeout: float = Field(default=10.0, gt=0)


class SmsSettings(Section):
    gateway: Literal["log", "http", "twilio"] = Field(default="log", description="log only writes to the log (development); SMPP is not built yet"
    )
    sender: str = "Frontdesk"
    max_segments: int = Field(default=3, ge=1, le=10, description="longer texts are cut and end with the link")
    concatenate: bool = Field(
        default=True, description="false: send each part as its own SMS (gateways without concatenation)"
    )
    http: SmsHttpSettings = Field(default_factory=SmsHttpSettings)
    twilio: SmsTwilioSettings = Field(default_factory=SmsTwilioSettings)
    inbound_secret: SecretStr | None = Field(default=None, description="shared secret: inbound SMS webhooks must carry its HMAC-SHA256 signature"
    )
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=10.0, gt=0)


class SlaSettings(Section):
    email_first_response_hours: float = Field(default=12.0, gt=0)
    enabled: bool = True
    calendars: list[CalendarDefinition] = Field(
        default_factory=lambda: [CalendarDefinition(name="office")]
    )
    policies: list[PolicyDefinition] | None = Field(default=None, description="seeded on first start; empty uses the built-in defaults"
    )
    scan_batch: int = Field(default=200, ge=1, le=5000)
    max_sleep_seconds: float = Field(default=60.0, gt=0, description="the scanner re-checks at least this often")
    sms: SmsSettings = Field(default_factory=SmsSettings)
    demo: bool = Field(default=False, description="seed a policy that breaches in minutes and an SMS sink")
