"""Each agent's line on one PBX: queue memberships, pauses, device state, and the state they add up to.

Kept by ``AgentLines``, which ``cti.tracker.CallTracker`` owns: the tracker hands it the
member and device frames and tells it when an agent's calls change, since being on a call
outranks anything the queues say. ``QueuePause`` without a queue and ``QueueMemberStatus``
fan out one event per membership, so a state is announced only when it changes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable

from core.events import DomainEvent
from cti.events import AgentStateChanged, to_user
from cti.parser import Frame


class AgentState(enum.StrEnum):
    READY = "ready"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    PAUSED = "paused"
    LOGGED_OUT = "logged-out"
    UNKNOWN = "unknown"  # the link to the PBX is down: nobody knows what the phone does


WRAP_UP_REASON = "wrap-up"


def interface_of(channel: str) -> str:
    """``PJSIP/1001-0000001c`` → ``PJSIP/1001``."""
    base, dash, _suffix = channel.rpartition("-")
    return base if dash and base else channel


@dataclasses.dataclass(slots=True)
class AgentLine:
    interface: str
    memberships: dict[str, tuple[bool, str]] = dataclasses.field(default_factory=dict)  # queue -> (paused, reason)
    device: str = "UNKNOWN"
    state: str = AgentState.LOGGED_OUT.value
    reason: str = ""


class AgentLines:
    def __init__(self, pbx: str, user_for: Callable[[str], int | None], in_call: Callable[[str], bool]) -> None:
        self.pbx = pbx
        self.user_for = user_for  # interface -> user id (the agent directory)
        self.in_call = in_call  # the tracker's word on whether an interface is talking (or picked up to dial)
        self.lines: dict[str, AgentLine] = {}

    def handlers(self) -> dict[str, Callable[[Frame, list[DomainEvent]], None]]:
        """The frames that change a line and no call: the tracker dispatches them here."""
        return {
            "QueueMemberStatus": self._member, "QueueMemberPause": self._member, "QueueMemberAdded": self._member,
            "QueueMemberRemoved": self._member_removed, "DeviceStateChange": self._device_changed,
        }

    def is_agent(self, interface: str) -> bool:
        return interface in self.lines or self.user_for(interface) is not None

    def changed(self, interface: str, out: list[DomainEvent]) -> None:
        """Something the state depends on changed: announce the state if it is a new one."""
        line = self._line(interface)
        state, reason = self._derive(line)
        if (state, reason) == (line.state, line.reason):
            return
        line.state, line.reason = state, reason
        user = self.user_for(interface)
        out.append(AgentStateChanged(self.pbx, interface, user, state, reason, tuple(sorted(line.memberships)), to_user(user)))

    def link_lost(self, out: list[DomainEvent]) -> None:
        """Nothing the PBX does is seen now: every phone's state is unknown until the resync."""
        for line in self.lines.values():
            if line.state != AgentState.UNKNOWN:
                line.state, line.reason = AgentState.UNKNOWN.value, ""
                user = self.user_for(line.interface)
                out.append(AgentStateChanged(self.pbx, line.interface, user, line.state, "", tuple(sorted(line.memberships)), to_user(user)))

    def queue_snapshot(self, items: list[Frame], out: list[DomainEvent]) -> None:
        """A ``QueueStatus`` answer lists every membership: lines it leaves out are in no queue."""
        members: dict[str, dict[str, tuple[bool, str]]] = {}
        for item in items:
            if item.get("Event") == "QueueMember":
                interface = item.get("StateInterface") or item.get("Location", "")
                members.setdefault(item.get("Location") or interface, {})[item.get("Queue", "")] = (
                    item.get("Paused") == "1", item.get("PausedReason", ""))
        for interface in set(self.lines) | set(members):
            self._line(interface).memberships = members.get(interface, {})
            self.changed(interface, out)

    def _line(self, interface: str) -> AgentLine:
        line = self.lines.get(interface)
        if line is None:
            line = self.lines[interface] = AgentLine(interface)
        return line

    def _derive(self, line: AgentLine) -> tuple[str, str]:
        if self.in_call(line.interface):
            return AgentState.ON_CALL.value, ""
        if not line.memberships:
            return AgentState.LOGGED_OUT.value, ""
        paused = [reason for p, reason in line.memberships.values() if p]
        if paused and len(paused) == len(line.memberships):
            reason = paused[0]
            if reason.lower() == WRAP_UP_REASON:
                return AgentState.WRAP_UP.value, ""
            return AgentState.PAUSED.value, reason
        return AgentState.READY.value, ""

    def _member(self, frame: Frame, out: list[DomainEvent]) -> None:
        interface = frame.get("Interface") or frame.get("Location", "")
        queue = frame.get("Queue", "")
        if not interface or not queue:
            return
        line = self._line(interface)
        line.memberships[queue] = (frame.get("Paused") == "1", frame.get("PausedReason", ""))
        self.changed(interface, out)

    def _member_removed(self, frame: Frame, out: list[DomainEvent]) -> None:
        interface = frame.get("Interface", "")
        line = self.lines.get(interface)
        if line is not None:
            line.memberships.pop(frame.get("Queue", ""), None)
            self.changed(interface, out)

    def _device_changed(self, frame: Frame, out: list[DomainEvent]) -> None:
        line = self.lines.get(frame.get("Device", ""))
        if line is not None:
            line.device = frame.get("State", line.device)

