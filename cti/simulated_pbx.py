"""The PBX behind the AMI simulator: its state, and the actions that change it.

``SimPbx`` keeps what a real PBX would report — channels, bridges, queue members, waiting
callers — from every event the simulator emits (``observe``), so ``CoreShowChannels`` and
``QueueStatus`` always agree with what was played. It answers the actions that change that
state as a live Asterisk 22 does: queue membership and pause, hang-up, ``Originate``
(click-to-dial), ``Redirect`` (blind transfer) and ``Atxfer``/``CancelAtxfer`` (attended
transfer with a consultation).

The AMI server in front of it (``cti.simulator.AmiSimulator``) holds one and dispatches
``Action: X`` to its ``action_x``. Every event goes out through the server's ``emit``, which
hands it back to ``observe``: the state changes exactly as the links are told. A crash or
restart wipes the calls (``reset``), not what a test set up (``no_answer``, ``busy``,
``answer_delay_s``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from cti.parser import Frame
from cti.scenarios import encode_event


class AmiConnection(Protocol):
    """The link an action came in on, which its answer goes back to."""

    def send(self, data: bytes) -> None: ...

    def reply(self, request: Frame, response: str = "Success", **fields: str) -> None: ...

    def send_list(self, request: Frame, message: str, items: list[Frame], complete: str) -> None: ...


class AmiServer(Protocol):
    """What the PBX needs of the server in front of it: events out to the links (and back
    into ``observe``), and tasks that a crash or restart cancels with the calls."""

    def emit(self, frame: Frame) -> None: ...

    def spawn(self, coro: Any) -> asyncio.Task[Any]: ...


@dataclasses.dataclass(slots=True)
class Member:
    queue: str
    interface: str
    name: str
    dynamic: bool
    paused: bool = False
    reason: str = ""

    def fields(self) -> Frame:
        return {
            "Queue": self.queue, "MemberName": self.name, "Interface": self.interface,
            "StateInterface": self.interface, "Membership": "dynamic" if self.dynamic else "static",
            "Penalty": "0", "CallsTaken": "0", "LastCall": "0", "LastPause": "0", "LoginTime": "0",
            "InCall": "0", "Status": "1", "Paused": "1" if self.paused else "0",
            "PausedReason": self.reason, "Ringinuse": "0", "Wrapuptime": "0",
        }


@dataclasses.dataclass(slots=True)
class Consult:
    """An attended transfer in the simulator, in the order a live Asterisk 22 runs it."""

    transferer: str
    customer: str
    bridge: str  # the customer's bridge, where the customer waits on hold
    local1: str = ""
    local2: str = ""
    target: str = ""  # the consulted agent's channel
    answered: bool = False
    cancelled: bool = False


_CHANNEL_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                 "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
                 "Exten", "Priority", "Uniqueid", "Linkedid")


def _channel_only(frame: Frame) -> Frame:
    return {k: frame[k] for k in _CHANNEL_KEYS if k in frame}


class SimPbx:
    """The state a real PBX would report, kept from the events the simulator emits, and the
    actions that change it."""

    def __init__(self, server: AmiServer, queues: dict[str, Sequence[str]], endpoints: Iterable[str],
                 answer_delay_s: float = 0.2) -> None:
        self._server = server
        self._start_queues = queues
        self._start_endpoints = list(endpoints)
        self.answer_delay_s = answer_delay_s
        self._seq = itertools.count(1)
        self.consults: dict[str, Consult] = {}  # transferring agent's channel -> its attended transfer
        self.no_answer: set[str] = set()  # endpoints whose phones ring but are never picked up
        self.no_answer_after_s = 0.5  # how long such a phone rings before an Originate gives up (real: its Timeout)
        self.busy: set[str] = set()  # customer numbers that answer busy
        # AOR -> registered contact URIs; kept over a restart, as Asterisk keeps contacts in its AstDB
        self.contacts: dict[str, set[str]] = {}
        self.reset()

    def reset(self, queues: dict[str, Sequence[str]] | None = None) -> None:
        """Back as the PBX starts (after a crash or restart): no calls, only the static queue
        members of ``queues`` (by default those it was made with)."""
        self.channels: dict[str, Frame] = {}
        self.members: dict[tuple[str, str], Member] = {}
        self.entries: dict[str, Frame] = {}  # caller channel -> QueueCallerJoin fields
        queues = queues if queues is not None else self._start_queues
        self.queues = set(queues)
        self.endpoints = set(self._start_endpoints)
        for queue, interfaces in queues.items():
            for interface in interfaces:
                self.endpoints.add(interface)
                self.members[(queue, interface)] = Member(queue, interface, f"Agent {interface.rsplit('/', 1)[-1]}", False)

    def observe(self, frame: Frame) -> None:
        event = frame.get("Event")
        channel = frame.get("Channel", "")
        if event in ("Newchannel", "Newstate", "NewConnectedLine"):
            self.channels[channel] = {**self.channels.get(channel, {}), **_channel_only(frame)}
        elif event == "Hangup":
            self.channels.pop(channel, None)
            self.entries.pop(channel, None)
        elif event == "BridgeEnter" and channel in self.channels:
            self.channels[channel]["BridgeId"] = frame.get("BridgeUniqueid", "")
        elif event == "BridgeLeave" and channel in self.channels:
            self.channels[channel].pop("BridgeId", None)
        elif event == "QueueCallerJoin":
            self.entries[channel] = frame
        elif event == "QueueCallerLeave":
            self.entries.pop(channel, None)

    def bridged_with(self, channel: str) -> list[str]:
        bridge = self.channels.get(channel, {}).get("BridgeId")
        if not bridge:
            return []
        return [name for name, ch in self.channels.items() if name != channel and ch.get("BridgeId") == bridge]

    def register(self, aor: str, uri: str) -> None:
        """A phone registers (a browser softphone, say): announced as Asterisk 22 does, listed by ``PJSIPShowContacts``."""
        self.contacts.setdefault(aor, set()).add(uri)
        self._contact_status(aor, uri, "Created")

    def unregister(self, aor: str, uri: str) -> None:
        self.contacts.get(aor, set()).discard(uri)
        self._contact_status(aor, uri, "Removed")

    def _contact_status(self, aor: str, uri: str, status: str) -> None:
        self._server.emit({"Event": "ContactStatus", "URI": uri, "ContactStatus": status, "AOR": aor, "EndpointName": aor})

    # -- actions ---------------------------------------------------------------------------
    def action_pjsipshowcontacts(self, client: AmiConnection, request: Frame) -> None:
        """As res_pjsip answers: an error when nothing is registered, else one ``ContactList`` per contact."""
        items: list[Frame] = [
            {"Event": "ContactList", "ObjectType": "contact",
             "ObjectName": f"{aor};@{hashlib.md5(uri.encode(), usedforsecurity=False).hexdigest()}",
             "Uri": uri, "Aor": aor, "Endpoint": aor, "Status": "Reachable", "RoundtripUsec": "0"}
            for aor in sorted(self.contacts) for uri in sorted(self.contacts[aor])
        ]
        if not items:
            client.reply(request, "Error", Message="No Contacts found")
            return
        client.send_list(request, "A listing of Contacts follows, presented as ContactList events", items,
                         "ContactListComplete")

    def action_coreshowchannels(self, client: AmiConnection, request: Frame) -> None:
        items = [{"Event": "CoreShowChannel", **ch, "Application": "", "ApplicationData": "", "Duration": "00:00:01"}
                 for ch in self.channels.values()]
        client.send_list(request, "Channels will follow", items, "CoreShowChannelsComplete")

    def action_queuestatus(self, client: AmiConnection, request: Frame) -> None:
        wanted = request.get("Queue")
        items: list[Frame] = []
        for queue in sorted(self.queues):
            if wanted and queue != wanted:
                continue
            items.append({"Event": "QueueParams", "Queue": queue, "Max": "0", "Strategy": "ringall", "Calls": "0"})
            for m in self.members.values():
                if m.queue == queue:
                    f = m.fields()
                    items.append({"Event": "QueueMember", "Queue": queue, "Name": m.name, "Location": m.interface,
                                  **{k: v for k, v in f.items() if k not in ("Queue", "MemberName", "Interface")}})
            for n, entry in enumerate(e for e in self.entries.values() if e.get("Queue") == queue):
                items.append({"Event": "QueueEntry", "Queue": queue, "Position": str(n + 1),
                              **_channel_only(entry), "Wait": "1", "Priority": "0"})
        client.send_list(request, "Queue status will follow", items, "QueueStatusComplete")

    def action_queueadd(self, client: AmiConnection, request: Frame) -> None:
        queue, interface = request.get("Queue", ""), request.get("Interface", "")
        if queue not in self.queues:
            client.reply(request, "Error", Message="Unable to add interface to queue: No such queue")
            return
        if (queue, interface) in self.members:
            client.reply(request, "Error", Message="Unable to add interface: Already there")
            return
        paused = request.get("Paused", "false").lower() in ("1", "true", "yes")
        member = Member(queue, interface, request.get("MemberName") or interface, True, paused, request.get("Reason", ""))
        self.members[(queue, interface)] = member
        client.reply(request, Message="Added interface to queue")
        self._server.emit({"Event": "QueueMemberAdded", "Privilege": "agent,all", **member.fields()})

    def action_queueremove(self, client: AmiConnection, request: Frame) -> None:
        key = (request.get("Queue", ""), request.get("Interface", ""))
        member = self.members.get(key)
        if member is None:
            client.reply(request, "Error", Message="Unable to remove interface: Not there")
            return
        if not member.dynamic:
            client.reply(request, "Error", Message="Member not dynamic")
            return
        del self.members[key]
        client.reply(request, Message="Removed interface from queue")
        self._server.emit({"Event": "QueueMemberRemoved", "Privilege": "agent,all", **member.fields()})

    def action_queuepause(self, client: AmiConnection, request: Frame) -> None:
        interface, queue = request.get("Interface", ""), request.get("Queue")
        paused = request.get("Paused", "true").lower() in ("1", "true", "yes")
        members = [m for m in self.members.values() if m.interface == interface and (not queue or m.queue == queue)]
        if not members:
            client.reply(request, "Error", Message="Interface not found")
            return
        client.reply(request, Message="Interface paused successfully" if paused else "Interface unpaused successfully")
        for m in members:
            m.paused = paused
            m.reason = request.get("Reason", "") if paused else ""
            self._server.emit({"Event": "QueueMemberPause", "Privilege": "agent,all", **m.fields()})

    def action_hangup(self, client: AmiConnection, request: Frame) -> None:
        channel = request.get("Channel", "")
        if channel not in self.channels:
            client.reply(request, "Error", Message="No such channel")
            return
        client.reply(request, Message="Channel Hungup")
        consult = self.consults.pop(channel, None)
        if consult is not None:
            self._end_consult(consult, complete=True)
            return
        for name in [channel, *self.bridged_with(channel)]:
            self.hang_up(name, "16", "Normal Clearing")

    def hang_up(self, channel: str, cause: str, text: str) -> None:
        ch = self.channels.get(channel)
        if ch is None:
            return
        bridge = ch.get("BridgeId")
        if bridge:
            self._server.emit({"Event": "BridgeLeave", "Privilege": "call,all", "BridgeUniqueid": bridge, **ch})
        self._server.emit({"Event": "Hangup", "Privilege": "call,all", **ch, "Cause": cause, "Cause-txt": text})

    def _new_channel(self, interface: str, state: int, num: str, name: str, linkedid: str, cl_num: str = "<unknown>",
                     uniqueid: str = "", suffix: str = "") -> Frame:
        seq = next(self._seq)
        frame = {
            "Channel": f"{interface}-{0x2000 + seq:08x}{suffix}", "ChannelState": str(state),
            "ChannelStateDesc": {0: "Down", 5: "Ringing", 6: "Up"}.get(state, "Down"),
            "CallerIDNum": num, "CallerIDName": name, "ConnectedLineNum": cl_num,
            "ConnectedLineName": "<unknown>", "Language": "en", "AccountCode": "", "Context": "agents",
            "Exten": "s", "Priority": "1", "Uniqueid": uniqueid or f"1900000000.{seq}", "Linkedid": linkedid or uniqueid or f"1900000000.{seq}",
        }
        self._server.emit({"Event": "Newchannel", "Privilege": "call,all", **frame})
        return frame

    def _set_state(self, frame: Frame, state: int) -> Frame:
        frame = {**frame, "ChannelState": str(state), "ChannelStateDesc": {5: "Ringing", 6: "Up"}.get(state, "Down")}
        self._server.emit({"Event": "Newstate", "Privilege": "call,all", **frame})
        return frame

    def action_originate(self, client: AmiConnection, request: Frame) -> None:
        client.reply(request, Message="Originate successfully queued")
        self._server.spawn(self._originate(client, request))

    async def _originate(self, client: AmiConnection, request: Frame) -> None:
        channel = request.get("Channel", "")
        interface = channel.split("@")[0]
        action_id = request.get("ActionID", "")

        def response(ok: bool, reason: str, uniqueid: str = "<unknown>") -> None:
            client.send(encode_event({
                "Event": "OriginateResponse", "Privilege": "call,all", "ActionID": action_id,
                "Response": "Success" if ok else "Failure", "Channel": channel,
                "Context": request.get("Context", ""), "Exten": request.get("Exten", ""),
                "Reason": reason, "Uniqueid": uniqueid, "CallerIDNum": "<unknown>", "CallerIDName": "<unknown>",
            }))

        if interface not in self.endpoints:
            await asyncio.sleep(0.01)
            response(False, "0")
            return
        uniqueid = request.get("ChannelId") or ""
        agent = self._new_channel(interface, 0, interface.rsplit("/", 1)[-1], "Click2Dial", uniqueid, uniqueid=uniqueid)
        agent = self._set_state(agent, 5)
        if interface in self.no_answer:  # as Asterisk: OriginateResponse Failure Reason 3, then the Hangup (cause 19)
            await asyncio.sleep(min(float(request.get("Timeout", "30000")) / 1000, self.no_answer_after_s))
            response(False, "3")
            self.hang_up(agent["Channel"], "19", "User alerting, no answer")
            return
        await asyncio.sleep(self.answer_delay_s)
        if agent["Channel"] not in self.channels:
            response(False, "1")
            return
        agent = self._set_state(agent, 6)
        response(True, "4", agent["Uniqueid"])
        exten = request.get("Exten")
        if not exten:
            return
        linkedid = agent["Linkedid"]
        target = f"PJSIP/{exten}" if f"PJSIP/{exten}" in self.endpoints else "PJSIP/customer"
        other = self._new_channel(target, 0, exten, "", linkedid, agent["CallerIDNum"], uniqueid=f"{linkedid};2")
        self._server.emit({"Event": "DialBegin", "Privilege": "call,all", **agent, **{"Dest" + k: v for k, v in other.items()}, "DialString": exten})
        if exten in self.busy or exten.lstrip("+") in self.busy:  # the customer's phone answers 486 Busy Here
            self._server.emit({"Event": "DialEnd", "Privilege": "call,all", **agent, **{"Dest" + k: v for k, v in other.items()}, "DialStatus": "BUSY"})
            self.hang_up(other["Channel"], "17", "User busy")
            self.hang_up(agent["Channel"], "17", "User busy")
            return
        other = self._set_state(other, 5)
        await asyncio.sleep(self.answer_delay_s)
        if other["Channel"] not in self.channels or agent["Channel"] not in self.channels:
            return
        other = self._set_state(other, 6)
        self._server.emit({"Event": "DialEnd", "Privilege": "call,all", **agent, **{"Dest" + k: v for k, v in other.items()}, "DialStatus": "ANSWER"})
        bridge = f"bridge-{linkedid}"
        for ch in (agent, other):
            self._server.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": bridge, "BridgeType": "basic", **ch})

    def action_redirect(self, client: AmiConnection, request: Frame) -> None:
        channel = request.get("Channel", "")
        if channel not in self.channels:
            client.reply(request, "Error", Message="No such channel")
            return
        client.reply(request, Message="Redirect successful")
        self._server.spawn(self._transfer(channel, request.get("Exten", ""), attended=False))

    def action_atxfer(self, client: AmiConnection, request: Frame) -> None:
        channel = request.get("Channel", "")
        if channel not in self.channels:
            client.reply(request, "Error", Message="No such channel")
            return
        client.reply(request, Message="Atxfer successfully queued")
        peers = self.bridged_with(channel)
        if peers and channel not in self.consults:
            bridge = self.channels[channel].get("BridgeId", "")
            consult = self.consults[channel] = Consult(channel, peers[0], bridge)
            self._server.spawn(self._consult(consult, request.get("Exten", "")))

    def action_cancelatxfer(self, client: AmiConnection, request: Frame) -> None:
        consult = self.consults.pop(request.get("Channel", ""), None)
        if consult is None:
            client.reply(request, "Error", Message="No attended transfer to cancel")
            return
        client.reply(request, Message="CancelAtxfer successfully queued")
        consult.cancelled = True
        self._end_consult(consult, complete=False)

    async def _consult(self, consult: Consult, exten: str) -> None:
        """As Asterisk does it: the transferrer is put on hold, a ``Local/`` leg dials the
        target on the same Linkedid, and the call changes hands only when the transferrer
        hangs up (``AttendedTransfer``); ``CancelAtxfer`` or no answer gives it back."""
        agent = self.channels.get(consult.transferer)
        if agent is None:
            return
        linkedid = agent["Linkedid"]
        self._server.emit({"Event": "Hold", "Privilege": "call,all", **agent})
        await asyncio.sleep(self.answer_delay_s)  # the pbx-transfer prompt and the digit timeout
        interface = f"PJSIP/{exten}"
        if consult.cancelled or interface not in self.endpoints:
            self.consults.pop(consult.transferer, None)
            self._server.emit({"Event": "Unhold", "Privilege": "call,all", **agent})
            return
        local = f"Local/{exten}@agents"
        local1 = self._new_channel(local, 0, exten, "", linkedid, suffix=";1")
        local2 = self._new_channel(local, 4, exten, "", linkedid, suffix=";2")
        consult.local1, consult.local2 = local1["Channel"], local2["Channel"]
        leg = self._new_channel(interface, 0, exten, f"Agent {exten}", linkedid, agent.get("CallerIDNum", ""))
        consult.target = leg["Channel"]
        self._server.emit({"Event": "DialBegin", "Privilege": "call,all", **local2, **{"Dest" + k: v for k, v in leg.items()}, "DialString": exten})
        side = f"consult-{consult.transferer}"
        self._server.emit({"Event": "BridgeLeave", "Privilege": "call,all", "BridgeUniqueid": consult.bridge, **agent})
        for ch in (local1, agent):
            self._server.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": side, "BridgeType": "basic", **ch})
        leg = self._set_state(leg, 5)
        await asyncio.sleep(self.answer_delay_s)
        if consult.cancelled or consult.target not in self.channels or interface in self.no_answer:
            return  # CancelAtxfer (or the transferrer hanging up) already ended it; a phone nobody picks up rings on
        leg = self._set_state(leg, 6)
        self._server.emit({"Event": "DialEnd", "Privilege": "call,all", **local2, **{"Dest" + k: v for k, v in leg.items()}, "DialStatus": "ANSWER"})
        for ch in (leg, local2):
            self._server.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": f"{side}-far", "BridgeType": "basic", **ch})
        consult.answered = True

    def _end_consult(self, consult: Consult, complete: bool) -> None:
        agent = self.channels.get(consult.transferer, {})
        customer = self.channels.get(consult.customer, {})
        if complete and consult.answered:
            self._server.emit({"Event": "AttendedTransfer", "Privilege": "call,all", "Result": "Success",
                       "OrigTransfererChannel": consult.transferer, "OrigTransfererLinkedid": agent.get("Linkedid", ""),
                       "TransfereeChannel": consult.customer, "TransfereeLinkedid": customer.get("Linkedid", ""),
                       "TransferTargetChannel": consult.local1, "DestType": "Bridge"})
            self.hang_up(consult.transferer, "16", "Normal Clearing")
            for name in (consult.local1, consult.local2):  # the Local/ pair optimises away
                self.hang_up(name, "16", "Normal Clearing")
            target = self.channels.get(consult.target)
            if target is not None:
                self._server.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": consult.bridge, "BridgeType": "basic", **target})
            return
        if consult.target in self.channels and not consult.answered:
            leg = self.channels[consult.target]
            local2 = self.channels.get(consult.local2, {})
            self._server.emit({"Event": "DialEnd", "Privilege": "call,all", **local2, **{"Dest" + k: v for k, v in leg.items()}, "DialStatus": "CANCEL"})
        for name in (consult.local1, consult.local2, consult.target):
            self.hang_up(name, "16", "Normal Clearing")
        if complete:  # hung up before the consulted agent answered: the call ends with them
            self.hang_up(consult.transferer, "16", "Normal Clearing")
            self.hang_up(consult.customer, "16", "Normal Clearing")
            return
        if agent:
            self._server.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": consult.bridge, "BridgeType": "basic", **agent})
            self._server.emit({"Event": "Unhold", "Privilege": "call,all", **agent})

    async def _transfer(self, channel: str, exten: str, attended: bool, transferer: str | None = None) -> None:
        """Move ``channel`` (the customer) to ``exten``: the old agent leg leaves, the new one rings.

        A blind transfer (AMI ``Redirect``) in the live Asterisk's order
        (tests/fixtures/ami/live_blind_transfer.ami): the customer leaves the bridge, then the
        agent, who hangs up (cause 16); the new leg is dialled and, answered, enters the new
        bridge before the customer. Asterisk sends no ``BlindTransfer`` for a Redirect."""
        customer = self.channels.get(channel)
        if customer is None:
            return
        peers = [transferer] if transferer else self.bridged_with(channel)
        if not attended and customer.get("BridgeId"):
            self._server.emit({"Event": "BridgeLeave", "Privilege": "call,all", "BridgeUniqueid": customer["BridgeId"], **customer})
            customer = self.channels.get(channel, customer)
        for peer in peers:
            if peer:
                self.hang_up(peer, "16", "Normal Clearing")
        interface = f"PJSIP/{exten}"
        if interface not in self.endpoints:
            return
        leg = self._new_channel(interface, 0, exten, f"Agent {exten}", customer["Linkedid"], customer.get("CallerIDNum", ""))
        self._server.emit({"Event": "DialBegin", "Privilege": "call,all", **customer, **{"Dest" + k: v for k, v in leg.items()}, "DialString": interface})
        leg = self._set_state(leg, 5)
        await asyncio.sleep(self.answer_delay_s)
        leg = self._set_state(leg, 6)
        self._server.emit({"Event": "DialEnd", "Privilege": "call,all", **customer, **{"Dest" + k: v for k, v in leg.items()}, "DialStatus": "ANSWER"})
        if attended:
            self._server.emit({"Event": "AttendedTransfer", "Privilege": "call,all", "Result": "Success", "TransfereeChannel": channel,
                       "TransfereeLinkedid": customer["Linkedid"], "Extension": exten})
        bridge = f"bridge-{customer['Linkedid']}-{exten}"
        for ch in (leg, customer) if not attended else (customer, leg):
            self._server.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": bridge, "BridgeType": "basic", **ch})
