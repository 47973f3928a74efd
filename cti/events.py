"""Domain events of the CTI: calls, screen-pops and agent state.

An event with ``user_ids`` reaches only those users' browsers. Every CTI event is
addressed that way — to the agents on the call, or to nobody (``()``) — because a PBX
at 20 calls/s would otherwise push each call's events to all 500 consoles (tens of
thousands of WebSocket writes a second). Server-side subscribers (the recorder, the
wallboard) get every event from the bus and publish their own summaries.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from core.events import DomainEvent


def to_user(user_id: int | None) -> tuple[int, ...]:
    """The ``user_ids`` of an event for one agent, or for nobody when the line has no agent."""
    return (user_id,) if user_id is not None else ()


@dataclasses.dataclass(frozen=True)
class CallRinging(DomainEvent):
    """An agent's phone rings for a call (queue ``AgentCalled`` or a direct ``DialBegin``)."""

    name: ClassVar[str] = "call.ringing"
    pbx: str
    linkedid: str
    direction: str
    number: str
    caller_name: str
    queue: str | None
    interface: str
    user_ids: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class CallAgentLeft(DomainEvent):
    """An agent no longer rings for, or takes part in, a call that goes on without them."""

    name: ClassVar[str] = "call.agent_left"
    pbx: str
    linkedid: str
    interface: str
    reason: str  # no-answer | answered-elsewhere | hung-up | transferred
    user_ids: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class CallAnswered(DomainEvent):
    name: ClassVar[str] = "call.answered"
    pbx: str
    linkedid: str
    direction: str
    number: str
    queue: str | None
    interface: str
    agent_user_id: int | None
    wait_s: float
    user_ids: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class CallEnded(DomainEvent):
    """A call is over; ``outcome`` is answered, abandoned, timeout, no-answer or failed."""

    name: ClassVar[str] = "call.ended"
    pbx: str
    linkedid: str
    direction: str
    number: str
    queue: str | None
    outcome: str
    agent_user_id: int | None
    talk_s: float
    wait_s: float
    caller_name: str = ""
    interface: str | None = None
    started_at: str | None = None
    joined_at: str | None = None
    ringing_at: str | None = None
    answered_at: str | None = None
    ended_at: str | None = None
    user_ids: tuple[int, ...] = ()
    # each agent's part of the call, in order: {interface, agent_user_id, started_at, ended_at, talk_s}
    segments: tuple[dict[str, Any], ...] = ()
    ended_during_outage: bool = False  # the PBX went away with the call live: ended when the link was lost
    customer_dialled: bool = True  # False: a click-to-dial that never reached the customer (nothing to record)


@dataclasses.dataclass(frozen=True)
class CallProgress(DomainEvent):
    """A step of something the agent asked for that the PBX carries out later (transfer, click-to-dial).

    The PBX accepts these actions at once and only tells what came of them in later events,
    so the agent learns the outcome from these frames, not from the action's reply. ``step``
    is a code the console words (``consulting``, ``transfer-done``, ``dial-customer-busy``, ...);
    ``detail`` carries what the words name (the transfer target, the number).
    """

    name: ClassVar[str] = "cti.progress"
    user_ids: tuple[int, ...]
    pbx: str
    linkedid: str
    step: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CallAbandoned(DomainEvent):
    """A queued caller left without an agent: hung up (abandoned) or the queue gave up (timeout)."""

    name: ClassVar[str] = "call.abandoned"
    pbx: str
    linkedid: str
    number: str
    queue: str | None
    wait_s: float
    timeout: bool
    user_ids: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class ScreenPopShown(DomainEvent):
    name: ClassVar[str] = "cti.pop"
    user_ids: tuple[int, ...]
    pbx: str
    linkedid: str
    pop: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ScreenPopWithdrawn(DomainEvent):
    name: ClassVar[str] = "cti.pop_withdrawn"
    user_ids: tuple[int, ...]
    pbx: str
    linkedid: str
    reason: str


@dataclasses.dataclass(frozen=True)
class CallPanel(DomainEvent):
    """The answered call's live panel for the agent on it (``state`` live or ended)."""

    name: ClassVar[str] = "cti.call_panel"
    user_ids: tuple[int, ...]
    pbx: str
    linkedid: str
    state: str
    call: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class AgentStateChanged(DomainEvent):
    """ready, on-call, wrap-up, paused or logged-out, as the PBX reports the agent's lines."""

    name: ClassVar[str] = "cti.agent_state"
    pbx: str
    interface: str
    user_id: int | None
    state: str
    reason: str
    queues: tuple[str, ...]
    user_ids: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class CallRecorded(DomainEvent):
    """A call an agent's phone rang for (or that they took or placed) was written down.

    Sent to those agents after the recorder's commit: the ticket the call landed on (the pop
    and the live panel link to it; it is only known once the recorder has run, after the pop
    was shown) and a nudge for the console's recent-calls list, which reads the records.
    """

    name: ClassVar[str] = "cti.call_recorded"
    user_ids: tuple[int, ...]
    pbx: str
    linkedid: str
    ticket_id: int | None
    ticket_tag: str | None
    ended: bool = False
