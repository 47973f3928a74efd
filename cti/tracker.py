"""Calls as the PBX reports them, keyed by Linkedid (one call across transfers).

A synchronous state machine: ``apply(frame)`` and ``apply_snapshot(snapshot)`` return the
domain events they cause; the caller publishes them. No I/O here, so the tracker keeps
up with a PBX at full load and is tested on recorded transcripts.

Things real Asterisk does that the tracker accounts for: a queue TIMEOUT is reported as
``QueueCallerAbandon`` like a caller hang-up, only ``VarSet QUEUESTATUS=TIMEOUT`` tells
them apart; cancelled legs and abandoned callers hang up with cause 0; ringall sends
``DialEnd`` twice per cancelled member; the caller's number is only in ``CallerIDNum``
(customer channels are ``PJSIP/customer-XXXX``). Each agent's line (queues, pauses, the
state they add up to) is kept by ``cti.agent_lines.AgentLines``, which the tracker owns,
feeds its member frames and tells when an agent's calls change.

Transfers and click-to-dial, as a live Asterisk 22 showed them: during an attended
transfer the consulted agent answers a ``Local/`` leg on the same Linkedid while the
transferring agent stays on the call; only ``AttendedTransfer`` (on the transferrer's
hang-up) hands the call over, so ownership moves there and nowhere else. ``Atxfer`` and
``Originate`` are accepted at once and their outcome only shows in later events, so the
agent who asked is told each step (``CallProgress``). A crashed PBX sends no Hangup:
the link queues ``LinkLost`` and calls the PBX no longer lists on reconnect end at that
moment, not at reconnect, marked as ended during the outage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.clock import Clock, SystemClock
from core.events import DomainEvent
from cti.agent_lines import AgentLines, interface_of
from cti.calls import Call, Consultation, Outcome, Segment
from cti.events import (
    CallAbandoned,
    CallAgentLeft,
    CallAnswered,
    CallEnded,
    CallProgress,
    CallRinging,
    to_user,
)
from cti.link import LinkLost, QueueItem, Snapshot
from cti.parser import Frame

# Events the tracker reads; everything else is dropped by the link before queueing.
TRACKED_EVENTS = frozenset({
    "Newchannel", "Newstate", "Hangup", "DialBegin", "DialEnd", "BridgeEnter",
    "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "AgentCalled",
    "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "BlindTransfer", "AttendedTransfer",
    "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved",
    "DeviceStateChange", "FullyBooted", "VarSet", "OriginateResponse",
})
TRACKED_VARIABLES = frozenset({"QUEUESTATUS"})


def wants(frame: Frame) -> bool:
    """The link's door filter: only what the tracker reads is queued (72 % of traffic is VarSet)."""
    event = frame.get("Event")
    if event == "VarSet":
        return frame.get("Variable") in TRACKED_VARIABLES
    return event in TRACKED_EVENTS


# OriginateResponse Reason codes (Asterisk's AST_CONTROL_*) for the agent's own leg.
_ORIGINATE_STEPS = {"3": "dial-agent-no-answer", "5": "dial-agent-busy", "1": "dial-agent-no-answer"}
_CUSTOMER_STEPS = {"BUSY": "dial-customer-busy", "NOANSWER": "dial-customer-no-answer", "CANCEL": "dial-cancelled"}


class CallTracker:
    def __init__(self, pbx: str, user_for: Callable[[str], int | None], clock: Clock | None = None) -> None:
        self.pbx = pbx
        self.user_for = user_for  # interface -> user id (the agent directory)
        self.clock = clock or SystemClock()
        self.calls: dict[str, Call] = {}
        self.channel_call: dict[str, str] = {}  # channel -> linkedid
        self.agents = AgentLines(pbx, user_for, self._in_call)
        self.queue_entries: dict[str, str] = {}  # caller channel -> queue (from QueueStatus)
        self.outbound: dict[str, tuple[str, int | None]] = {}  # expected linkedid -> (number, user)
        self.applied = 0
        self.lost_at: datetime | None = None  # when the link went down, until the next channel snapshot
        self._tokens = 0
        self._handlers: dict[str, Callable[[Frame, list[DomainEvent]], None]] = {
            name: getattr(self, "_on_" + name) for name in TRACKED_EVENTS if hasattr(self, "_on_" + name)
        }
        self._handlers.update(self.agents.handlers())

    # -- entry points --------------------------------------------------------------------
    def apply(self, item: QueueItem) -> list[DomainEvent]:
        out: list[DomainEvent] = []
        if isinstance(item, Snapshot):
            self._apply_snapshot(item, out)
            return out
        if isinstance(item, LinkLost):
            self._link_lost(item, out)
            return out
        self.applied += 1
        handler = self._handlers.get(item.get("Event", ""))
        if handler is not None:
            handler(item, out)
        return out

    def expect_outbound(self, linkedid: str, number: str, user_id: int | None) -> None:
        """The console placed a call with ``ChannelId=linkedid``: remember who and whom."""
        self.outbound[linkedid] = (number, user_id)

    def request_transfer(self, linkedid: str, target: str, user_id: int | None) -> int:
        """The agent asked for an attended transfer; its outcome comes from later events."""
        call = self.calls[linkedid]
        self._tokens += 1
        call.consult = Consultation(call.agent or "", user_id, target, self._tokens)
        return self._tokens

    def forget_transfer(self, linkedid: str, token: int) -> None:
        """The PBX refused the Atxfer (or never answered it): no consultation will follow."""
        call = self.calls.get(linkedid)
        if call is not None and call.consult is not None and call.consult.token == token:
            call.consult = None

    def transfer_overdue(self, linkedid: str, token: int) -> list[DomainEvent]:
        """The PBX accepted the Atxfer but placed no consultation leg in time: it dropped it.

        That is what Asterisk does without the queue's ``t`` option, an attended-transfer
        feature code or the ``pbx-transfer`` prompt: no event at all.
        """
        call = self.calls.get(linkedid)
        if call is None or call.consult is None or call.consult.token != token or call.consult.started:
            return []
        consult, call.consult = call.consult, None
        return [CallProgress(to_user(consult.user_id), self.pbx, linkedid, "transfer-failed", {"target": consult.target})]

    def cancelling_transfer(self, linkedid: str) -> Consultation | None:
        call = self.calls.get(linkedid)
        if call is not None and call.consult is not None:
            call.consult.cancelling = True
            return call.consult
        return None

    def call_of_user(self, user_id: int) -> list[Call]:
        return [c for c in self.calls.values() if c.agent_user_id == user_id or c.requested_by == user_id
                or any(self.user_for(i) == user_id for i in c.ringing)]

    def other_party(self, call: Call) -> str | None:
        """The customer's channel: the inbound caller, or the far end of an outbound call."""
        if call.customer_channel in call.channels:
            return call.customer_channel
        return next((c for c in sorted(call.channels) if c != call.agent_channel and not self.agents.is_agent(interface_of(c))), None)

    def _in_call(self, interface: str) -> bool:
        """On a call, for the agent's line: answered, or (click-to-dial) picked up their own phone."""
        return any(c.agent == interface and (c.answered_at is not None or c.agent_up) for c in self.calls.values())

    # -- calls --------------------------------------------------------------------------
    def _call_for(self, frame: Frame, create: bool = True) -> Call | None:
        linkedid = frame.get("Linkedid", "")
        call = self.calls.get(linkedid)
        if call is None and create and linkedid:
            call = self._new_call(frame)
        return call

    def _new_call(self, frame: Frame) -> Call:
        linkedid = frame.get("Linkedid", "")
        channel = frame.get("Channel", "")
        now = self.clock.now()
        expected = self.outbound.pop(linkedid, None)
        agent_side = self.agents.is_agent(interface_of(channel))
        if expected is not None or agent_side:
            exten = frame.get("Exten", "")
            number = expected[0] if expected else ("" if exten in ("s", "") else exten)
            call = Call(self.pbx, linkedid, "outbound", number, "", now)
            call.requested_by = expected[1] if expected else self.user_for(interface_of(channel))
            call.agent = interface_of(channel)
            call.agent_user_id = call.requested_by
        else:
            call = Call(self.pbx, linkedid, "inbound", _number(frame.get("CallerIDNum")), _number(frame.get("CallerIDName")), now)
            call.customer_channel = channel
        self.calls[linkedid] = call
        return call

    def _on_Newchannel(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame)
        if call is None:
            return
        channel = frame.get("Channel", "")
        call.channels.add(channel)
        self.channel_call[channel] = call.linkedid
        consult = call.consult
        if consult is not None and not consult.started and channel.startswith("Local/"):
            consult.started = True
            consult.leg = channel.rpartition(";")[0]
            out.append(CallProgress(to_user(consult.user_id), self.pbx, call.linkedid, "consulting", {"target": consult.target}))

    def _on_Newstate(self, frame: Frame, out: list[DomainEvent]) -> None:
        """Only the click-to-dial agent's own leg matters here: on call once they pick up, not while it rings."""
        if frame.get("ChannelState") != "6":
            return
        call = self.calls.get(frame.get("Linkedid", ""))
        if call is None or call.direction != "outbound" or call.agent_up:
            return
        if interface_of(frame.get("Channel", "")) == call.agent:
            call.agent_up = True
            self.agents.changed(call.agent, out)

    def _on_QueueCallerJoin(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame)
        if call is None:
            return
        channel = frame.get("Channel", "")
        if channel.startswith("Local/"):
            return  # an attended transfer's consultation leg queueing: the customer is still with the agent
        call.queue = frame.get("Queue") or call.queue
        call.joined_at = call.joined_at or self.clock.now()
        call.customer_channel = channel or call.customer_channel

    def _ring(self, call: Call, interface: str, channel: str, out: list[DomainEvent]) -> None:
        if interface in call.ringing or (call.answered_at is not None and call.agent == interface):
            return
        call.ringing[interface] = channel
        call.ringing_at = call.ringing_at or self.clock.now()
        self.channel_call[channel] = call.linkedid
        user = self.user_for(interface)
        out.append(CallRinging(self.pbx, call.linkedid, call.direction, call.number, call.caller_name,
                               call.queue, interface, (user,) if user is not None else ()))

    def _stop_ring(self, call: Call, interface: str, reason: str, out: list[DomainEvent]) -> None:
        if call.ringing.pop(interface, None) is None:
            return
        user = self.user_for(interface)
        out.append(CallAgentLeft(self.pbx, call.linkedid, interface, reason, (user,) if user is not None else ()))

    def _on_AgentCalled(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame)
        if call is None:
            return
        call.queue = frame.get("Queue") or call.queue
        self._ring(call, frame.get("Interface") or interface_of(frame.get("DestChannel", "")), frame.get("DestChannel", ""), out)

    def _on_AgentRingNoAnswer(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame, create=False)
        if call is not None:
            self._stop_ring(call, frame.get("Interface") or interface_of(frame.get("DestChannel", "")), "no-answer", out)

    def _on_DialBegin(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame)
        if call is None:
            return
        dest = frame.get("DestChannel", "")
        if not dest:
            return
        call.channels.add(dest)
        self.channel_call[dest] = call.linkedid
        interface = interface_of(dest)
        if self.agents.is_agent(interface):
            if call.answered_at is not None and frame.get("Channel", "").startswith("Local/") and interface != call.agent:
                self._consult_ring(call, frame, interface)
            if call.direction == "inbound" or interface != call.agent:
                self._ring(call, interface, dest, out)  # a direct call, or a transfer to this agent
        elif call.direction == "outbound" and call.customer_channel is None:
            call.customer_channel = dest
            if not call.number:
                call.number = frame.get("DialString", "").partition("/")[2].partition("@")[0] or _number(frame.get("DestCallerIDNum"))
            if call.requested_by is not None:
                out.append(CallProgress((call.requested_by,), self.pbx, call.linkedid, "dial-calling-customer", {"number": call.number}))

    def _consult_ring(self, call: Call, frame: Frame, interface: str) -> None:
        """A consultation leg rings an agent: the call stays with the transferring agent."""
        consult = call.consult
        if consult is None:  # started from the phone's own feature code, not from the console
            consult = call.consult = Consultation(call.agent or "", call.agent_user_id, frame.get("Exten", "") or interface)
        consult.started = True
        consult.leg = consult.leg or frame.get("Channel", "").rpartition(";")[0]
        consult.ringing.add(interface)

    def _on_DialEnd(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame, create=False)
        if call is None:
            return
        status = frame.get("DialStatus", "")
        interface = interface_of(frame.get("DestChannel", ""))
        consult = call.consult
        if consult is not None and interface in consult.ringing:
            self._consult_dial_end(call, consult, interface, status, out)
            return
        if call.direction == "outbound" and frame.get("DestChannel") == call.customer_channel and call.requested_by is not None:
            step = "dial-connected" if status == "ANSWER" else _CUSTOMER_STEPS.get(status, "dial-customer-unreachable")
            out.append(CallProgress((call.requested_by,), self.pbx, call.linkedid, step, {"number": call.number}))
        if status == "ANSWER":
            if interface in call.ringing or self.agents.is_agent(interface):
                self._answer(call, interface, out)
            elif call.direction == "outbound":
                self._answer(call, call.agent or interface, out)  # the customer picked up
            return
        call.dial_status = status or call.dial_status
        reason = ("answered-elsewhere" if call.answered_at else "cancelled") if status == "CANCEL" else "no-answer"
        self._stop_ring(call, interface, reason, out)

    def _consult_dial_end(self, call: Call, consult: Consultation, interface: str, status: str, out: list[DomainEvent]) -> None:
        consult.ringing.discard(interface)
        if status == "ANSWER" and not consult.answered:
            consult.answered = True
            consult.interface = interface
            if consult.completing:  # the transferrer already hung up: the consulted agent takes it now
                call.consult = None
                self._answer(call, interface, out)
                out.append(CallProgress(to_user(consult.user_id), self.pbx, call.linkedid, "transfer-done", {"target": consult.target}))
            else:
                out.append(CallProgress(to_user(consult.user_id), self.pbx, call.linkedid, "consult-answered", {"target": consult.target}))
            return
        # This phone is done ringing; the consultation itself ends with its Local/ leg (a queue may ring others).
        self._stop_ring(call, interface, "cancelled" if consult.cancelling else "no-answer", out)

    def _consult_over(self, call: Call, consult: Consultation, out: list[DomainEvent]) -> None:
        """The consultation leg hung up without a transfer: declined, not answered or cancelled."""
        call.consult = None
        for interface in list(consult.ringing):
            self._stop_ring(call, interface, "cancelled" if consult.cancelling else "no-answer", out)
        if consult.interface is not None:
            self._stop_ring(call, consult.interface, "cancelled", out)
        step = "transfer-cancelled" if consult.cancelling else "transfer-declined"
        out.append(CallProgress(to_user(consult.user_id), self.pbx, call.linkedid, step, {"target": consult.target}))

    def _answer(self, call: Call, interface: str, out: list[DomainEvent]) -> None:
        now = self.clock.now()
        previous = call.agent if call.answered_at is not None else None
        if previous == interface:
            return
        call.agent_channel = call.ringing.pop(interface, None) or next(
            (c for c in sorted(call.channels) if interface_of(c) == interface), None)
        if previous is not None:
            user = self.user_for(previous)
            out.append(CallAgentLeft(self.pbx, call.linkedid, previous, "transferred", (user,) if user is not None else ()))
        call.answered_at = call.answered_at or now
        call.agent = interface
        if call.segments and call.segments[-1].ended_at is None:
            call.segments[-1].ended_at = now
        if previous is not None:
            self.agents.changed(previous, out)
        call.agent_user_id = self.user_for(interface) if call.direction == "inbound" or previous else (call.agent_user_id or self.user_for(interface))
        call.segments.append(Segment(interface, call.agent_user_id, now))
        for other in list(call.ringing):
            self._stop_ring(call, other, "answered-elsewhere", out)
        out.append(CallAnswered(self.pbx, call.linkedid, call.direction, call.number, call.queue, interface,
                                call.agent_user_id, call.wait_s, to_user(call.agent_user_id)))
        self.agents.changed(interface, out)

    def _on_AgentConnect(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame)
        if call is not None and call.consult is not None and frame.get("Channel", "").startswith("Local/"):
            return  # a queue answered the consultation: the call changes hands only on AttendedTransfer
        if call is not None:
            self._answer(call, frame.get("Interface") or interface_of(frame.get("DestChannel", "")), out)

    def _on_BridgeEnter(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame, create=False)
        if call is None or call.answered_at is not None:
            return
        channel = frame.get("Channel", "")
        if call.direction == "outbound" and not self.agents.is_agent(interface_of(channel)):
            self._answer(call, call.agent or "", out)

    def _on_AgentComplete(self, frame: Frame, out: list[DomainEvent]) -> None:
        """The queue's talk time is that agent's segment (after a transfer, the first agent's only)."""
        call = self._call_for(frame, create=False)
        if call is None or frame.get("Channel", "").startswith("Local/"):
            return  # a consultation leg's queue: its talk time began before the agent had the customer
        interface = frame.get("Interface") or interface_of(frame.get("DestChannel", ""))
        segment = next((s for s in reversed(call.segments) if s.interface == interface), None)
        if segment is not None:
            try:
                segment.talk_s = float(frame.get("TalkTime", "0"))
            except ValueError:
                pass

    def _on_VarSet(self, frame: Frame, out: list[DomainEvent]) -> None:
        if frame.get("Variable") == "QUEUESTATUS":
            call = self._call_for(frame, create=False)
            if call is not None:
                call.queue_status = frame.get("Value")

    def _on_QueueCallerAbandon(self, frame: Frame, out: list[DomainEvent]) -> None:
        call = self._call_for(frame, create=False)
        if call is not None:
            call.abandoned = True
            call.queue = frame.get("Queue") or call.queue

    def _on_QueueCallerLeave(self, frame: Frame, out: list[DomainEvent]) -> None:
        self.queue_entries.pop(frame.get("Channel", ""), None)

    def _on_BlindTransfer(self, frame: Frame, out: list[DomainEvent]) -> None:
        pass  # the new leg's DialBegin/DialEnd (same Linkedid) moves the call to its new agent

    def _on_AttendedTransfer(self, frame: Frame, out: list[DomainEvent]) -> None:
        """The one moment an attended transfer hands the call over (the transferrer hung up)."""
        call = self.calls.get(frame.get("TransfereeLinkedid") or frame.get("OrigTransfererLinkedid", ""))
        if call is None or call.consult is None:
            return
        consult = call.consult
        if frame.get("Result") != "Success":
            call.consult = None
            out.append(CallProgress(to_user(consult.user_id), self.pbx, call.linkedid, "transfer-failed", {"target": consult.target}))
        elif consult.answered and consult.interface is not None:
            call.consult = None
            self._answer(call, consult.interface, out)
            out.append(CallProgress(to_user(consult.user_id), self.pbx, call.linkedid, "transfer-done", {"target": consult.target}))
        else:
            consult.completing = True

    def _on_OriginateResponse(self, frame: Frame, out: list[DomainEvent]) -> None:
        """Click-to-dial: why the agent's own leg failed (Reason 3 no answer, 5 busy, 0 unreachable)."""
        if frame.get("Response") != "Failure":
            return
        # Uniqueid is the ChannelId asked for, or "<unknown>" when no channel could be made;
        # the console sends that ChannelId as the ActionID too.
        uniqueid = frame.get("Uniqueid", "")
        linkedid = uniqueid if uniqueid in self.calls or uniqueid in self.outbound else frame.get("ActionID", "")
        call = self.calls.get(linkedid)
        if call is not None:
            call.originate_reason = frame.get("Reason", "0")
            return
        expected = self.outbound.pop(linkedid, None)
        if expected is not None and expected[1] is not None:  # no channel was ever made
            out.append(CallProgress((expected[1],), self.pbx, linkedid, "dial-agent-unreachable", {"number": expected[0]}))

    def _on_Hangup(self, frame: Frame, out: list[DomainEvent]) -> None:
        channel = frame.get("Channel", "")
        linkedid = self.channel_call.pop(channel, None) or frame.get("Linkedid", "")
        call = self.calls.get(linkedid)
        if call is None:
            return
        call.channels.discard(channel)
        consult = call.consult
        if consult is not None and consult.leg and channel.startswith("Local/") and channel.rpartition(";")[0] == consult.leg:
            self._consult_over(call, consult, out)
        interface = interface_of(channel)
        if call.ringing.get(interface) == channel:
            self._stop_ring(call, interface, "answered-elsewhere" if call.answered_at else "hung-up", out)
        if channel == call.customer_channel or not call.channels:
            self._end(call, out)

    def _end(self, call: Call, out: list[DomainEvent], outcome: str | None = None, at: datetime | None = None) -> None:
        self.calls.pop(call.linkedid, None)
        for channel in call.channels:
            self.channel_call.pop(channel, None)
        call.ended_at = at or self.clock.now()
        if call.segments and call.segments[-1].ended_at is None:
            call.segments[-1].ended_at = call.ended_at
        customer_dialled = call.direction == "inbound" or call.customer_channel is not None
        if not customer_dialled and call.requested_by is not None:
            step = _ORIGINATE_STEPS.get(call.originate_reason or "", "dial-agent-unreachable") if call.originate_reason else (
                "dial-cancelled" if call.agent_up else "dial-agent-no-answer")
            out.append(CallProgress((call.requested_by,), self.pbx, call.linkedid, step, {"number": call.number}))
        for interface in list(call.ringing):
            self._stop_ring(call, interface, "hung-up", out)
        if outcome is None:
            if call.answered_at is not None:
                outcome = Outcome.ANSWERED
            elif call.abandoned:
                outcome = Outcome.TIMEOUT if call.queue_status == "TIMEOUT" else Outcome.ABANDONED
            elif call.direction == "outbound" and call.dial_status == "BUSY":
                outcome = Outcome.BUSY
            elif call.dial_status in ("NOANSWER", "BUSY", "CONGESTION", "CHANUNAVAIL"):
                outcome = Outcome.NO_ANSWER
            elif call.direction == "inbound" and (call.ringing_at or call.queue):
                outcome = Outcome.ABANDONED  # the caller hung up while an agent's phone rang
            else:
                outcome = Outcome.NO_ANSWER
        call.outcome = str(outcome)
        if call.segments:
            call.talk_s = sum(s.talk for s in call.segments)
        elif call.answered_at is not None:
            call.talk_s = max(0.0, (call.ended_at - call.answered_at).total_seconds())
        if call.abandoned and call.answered_at is None:
            out.append(CallAbandoned(self.pbx, call.linkedid, call.number, call.queue, call.wait_s, call.outcome == Outcome.TIMEOUT))
        out.append(CallEnded(self.pbx, call.linkedid, call.direction, call.number, call.queue, call.outcome,
                             call.agent_user_id, call.talk_s, call.wait_s, call.caller_name, call.agent,
                             _iso(call.started_at), _iso(call.joined_at), _iso(call.ringing_at),
                             _iso(call.answered_at), _iso(call.ended_at), to_user(call.agent_user_id),
                             tuple(s.as_dict() for s in call.segments), call.ended_during_outage, customer_dialled))
        if call.agent:
            self.agents.changed(call.agent, out)

    def _on_FullyBooted(self, frame: Frame, out: list[DomainEvent]) -> None:
        pass  # the link asks for a resync; its snapshot arrives through this same queue

    # -- resynchronisation -------------------------------------------------------------------
    def _link_lost(self, item: LinkLost, out: list[DomainEvent]) -> None:
        """Nothing the PBX does is seen now: every phone's state is unknown until the resync."""
        self.lost_at = self.lost_at or item.at
        self.agents.link_lost(out)

    def _apply_snapshot(self, snapshot: Snapshot, out: list[DomainEvent]) -> None:
        if snapshot.action == "QueueStatus":
            self._queue_snapshot(snapshot.items, out)
        elif snapshot.action == "CoreShowChannels":
            self._channel_snapshot(snapshot.items, out)

    def _queue_snapshot(self, items: list[Frame], out: list[DomainEvent]) -> None:
        self.queue_entries = {}
        for item in items:
            if item.get("Event") == "QueueEntry":
                self.queue_entries[item.get("Channel", "")] = item.get("Queue", "")
        self.agents.queue_snapshot(items, out)

    def _channel_snapshot(self, items: list[Frame], out: list[DomainEvent]) -> None:
        by_call: dict[str, list[Frame]] = {}
        for item in items:
            by_call.setdefault(item.get("Linkedid", ""), []).append(item)
        lost_at, self.lost_at = self.lost_at, None
        for linkedid, call in list(self.calls.items()):
            if linkedid not in by_call:
                # Gone while we were not connected: it ended when the link was lost (a crash
                # sends no Hangup), so the outage is not counted as talk time.
                call.ended_during_outage = lost_at is not None
                self._end(call, out, outcome=Outcome.ANSWERED if call.answered_at else Outcome.FAILED, at=lost_at)
        for linkedid, channels in by_call.items():
            if not linkedid:
                continue
            found = self.calls.get(linkedid)
            if found is not None:
                call = found
            else:
                first = next((c for c in channels if c.get("Uniqueid") == linkedid), channels[0])
                call = self._new_call(first)
            present = {c.get("Channel", "") for c in channels}
            call.channels = present
            for name in present:
                self.channel_call[name] = linkedid
            for interface, channel in list(call.ringing.items()):
                if channel not in present:
                    self._stop_ring(call, interface, "hung-up", out)
            for item in channels:
                channel = item.get("Channel", "")
                if channel in self.queue_entries:
                    call.queue = self.queue_entries[channel]
                    call.joined_at = call.joined_at or call.started_at
                interface = interface_of(channel)
                if channel == call.customer_channel or not self.agents.is_agent(interface) or call.direction == "outbound":
                    continue
                state = item.get("ChannelState")
                if state == "5":
                    self._ring(call, interface, channel, out)
                elif state == "6" and item.get("BridgeId") and call.agent_channel not in present:
                    # (while the agent on the call is still there, another agent's bridged leg is
                    # a consultation, not a new owner: only AttendedTransfer hands it over)
                    self._answer(call, interface, out)



def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _number(value: str | None) -> str:
    text = (value or "").strip()
    return "" if text.lower() in ("<unknown>", "unknown") else text
