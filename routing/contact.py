"""A contact from any channel and the decision routing makes about it."""

from __future__ import annotations

import dataclasses
from typing import Any

# A voice ticket whose subject starts so is a callback: an abandoned call to ring back.
# The call recorder writes it; SLA policies select on it.
CALLBACK_SUBJECT_PREFIX = "Callback"


def callback_subject(detail: str) -> str:
    return f"{CALLBACK_SUBJECT_PREFIX}: {detail}"


def is_callback(channel: str, subject: str) -> bool:
    return channel == "voice" and subject.strip().lower().startswith(CALLBACK_SUBJECT_PREFIX.lower())


@dataclasses.dataclass(slots=True)
class Contact:
    """What a channel knows about an incoming contact, before it is a ticket."""

    channel: str
    customer_id: int | None
    customer_tier: str | None = None
    subject: str = ""
    body: str = ""
    address: str | None = None  # the phone number or email address it came from
    queue_hint: str | None = None  # e.g. the PBX queue the call joined
    ticket_id: int | None = None  # set when the channel already threaded it
    category: str | None = None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class Decision:
    queue: str
    priority: int
    category: str
    assignee_id: int | None = None
    join_ticket_id: int | None = None  # an open ticket this contact joins
    skill: str | None = None
    matched_rule: str | None = None
    reasons: list[str] = dataclasses.field(default_factory=list)
