"""A call as the tracker follows it: its agents' segments, an attended transfer under way, how it ended.

``cti.tracker.CallTracker`` changes these records as frames arrive; they live apart from it
so that module says how frames change a call and this one what a call holds.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    NO_ANSWER = "no-answer"
    BUSY = "busy"  # a click-to-dial whose customer was busy
    FAILED = "failed"


@dataclasses.dataclass(slots=True)
class Segment:
    """One agent's part of a call, from answering (or taking it over) to leaving it."""

    interface: str
    user_id: int | None
    started_at: datetime
    ended_at: datetime | None = None
    talk_s: float | None = None  # the PBX's own figure (AgentComplete TalkTime) when it gave one

    def as_dict(self) -> dict[str, object]:
        return {"interface": self.interface, "agent_user_id": self.user_id, "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None, "talk_s": round(self.talk, 3)}

    @property
    def talk(self) -> float:
        if self.talk_s is not None:
            return self.talk_s
        return max(0.0, (self.ended_at - self.started_at).total_seconds()) if self.ended_at else 0.0


@dataclasses.dataclass(slots=True)
class Consultation:
    """An attended transfer under way: the transferring agent keeps the call until ``AttendedTransfer``."""

    by: str  # interface of the transferring agent
    user_id: int | None  # who is told how it goes
    target: str  # what was dialled
    token: int = 0  # tells a requested transfer from a later one (the timeout of the first must not end the second)
    started: bool = False  # the PBX placed the consultation leg
    leg: str | None = None  # its Local/ channel pair, without the ;1/;2 (its hang-up ends the consultation)
    ringing: set[str] = dataclasses.field(default_factory=set)  # agents it rings (several for a queue)
    interface: str | None = None  # the consulted agent who answered
    answered: bool = False
    cancelling: bool = False
    completing: bool = False  # AttendedTransfer came while the consulted phone still rang


@dataclasses.dataclass(slots=True)
class Call:
    pbx: str
    linkedid: str
    direction: str  # inbound | outbound
    number: str
    caller_name: str
    started_at: datetime
    customer_channel: str | None = None
    queue: str | None = None
    joined_at: datetime | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    agent: str | None = None  # interface of the agent on the call
    agent_user_id: int | None = None
    agent_channel: str | None = None
    ringing: dict[str, str] = dataclasses.field(default_factory=dict)  # interface -> channel
    channels: set[str] = dataclasses.field(default_factory=set)
    queue_status: str | None = None
    abandoned: bool = False
    dial_status: str | None = None
    outcome: str | None = None
    talk_s: float = 0.0
    requested_by: int | None = None  # the user who placed it from the console
    agent_up: bool = False  # click-to-dial: the agent picked up their own phone
    originate_reason: str | None = None  # click-to-dial: OriginateResponse Reason when the agent's leg failed
    consult: Consultation | None = None
    segments: list[Segment] = dataclasses.field(default_factory=list)
    ended_during_outage: bool = False

    @property
    def wait_s(self) -> float:
        start = self.joined_at or self.started_at
        end = self.answered_at or self.ended_at
        return max(0.0, (end - start).total_seconds()) if end else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "pbx": self.pbx, "linkedid": self.linkedid, "direction": self.direction,
            "number": self.number, "caller_name": self.caller_name, "queue": self.queue,
            "agent": self.agent, "agent_user_id": self.agent_user_id,
            "customer_channel": self.customer_channel,
            "started_at": self.started_at.isoformat(),
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "ringing": sorted(self.ringing),
            "transfer": ({"target": self.consult.target, "answered": self.consult.answered}
                         if self.consult is not None else None),
        }

