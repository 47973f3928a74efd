"""An AMI server that speaks the real wire protocol, for tests, ``make demo`` and the benchmark.

It writes the banner (without a blank line, as Asterisk does), accepts ``Login`` in clear
or after an MD5 ``Challenge``, answers actions with their ActionID (lists as
``EventList: start`` … ``Complete``), and keeps a small PBX state — channels, bridges,
queue members, waiting callers — that it updates from every event it emits, so
``CoreShowChannels`` and ``QueueStatus`` always agree with what was played.

Scenarios: replay of recorded transcripts (``play_transcript``), generated queue calls
(``play``/``QueueCall``), background load (``play_load``: the recorded 10 calls/s mix,
renumbered per pass, at any rate), and faults (``drop_links``, ``restart`` as the live
Asterisk restarts, ``crash``, ``hold_replies``). Counters (``actions``) let tests check e.g. that an Originate was
received exactly once.

``frontdesk ami-sim --port 5038`` runs it standalone and ``make demo`` runs it with
simulated customers calling (both in ``cti.demo_pbx``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import itertools
import logging
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cti.parser import Frame, FrameReader
from cti.scenarios import (
    QueueCall,
    Step,
    encode_event,
    load_template,
    read_transcript,
    renumber,
    transcript_events,
)

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


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


class SimPbx:
    """The state a real PBX would report, kept from the events the simulator emits."""

    def __init__(self, queues: dict[str, Sequence[str]], endpoints: Iterable[str]) -> None:
        self.channels: dict[str, Frame] = {}
        self.members: dict[tuple[str, str], Member] = {}
        self.entries: dict[str, Frame] = {}  # caller channel -> QueueCallerJoin fields
        self.queues = set(queues)
        self.endpoints = set(endpoints)
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


_CHANNEL_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                 "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
                 "Exten", "Priority", "Uniqueid", "Linkedid")


def _channel_only(frame: Frame) -> Frame:
    return {k: frame[k] for k in _CHANNEL_KEYS if k in frame}


class _Client:
    def __init__(self, sim: AmiSimulator, writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.writer = writer
        self.logged_in = False
        self.events = True
        self.challenge = ""

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class AmiSimulator:
    def __init__(
        self,
        username: str = "cti",
        secret: str = "ctisecret",
        queues: dict[str, Sequence[str]] | None = None,
        endpoints: Iterable[str] = (),
        answer_delay_s: float = 0.2,
    ) -> None:
        self.username = username
        self.secret = secret
        self._queues: dict[str, Sequence[str]] = queues if queues is not None else {"support": [f"PJSIP/100{n}" for n in range(1, 6)], "sales": []}
        self._endpoints = list(endpoints)
        self.pbx = SimPbx(self._queues, self._endpoints)
        self.answer_delay_s = answer_delay_s
        self.actions: collections.Counter[str] = collections.Counter()
        self.emitted = 0
        self.clients: list[_Client] = []
        self.hold: set[str] = set()  # actions received (and counted) but never answered
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = itertools.count(1)
        self.consults: dict[str, Consult] = {}  # transferring agent's channel -> its attended transfer
        self.no_answer: set[str] = set()  # endpoints whose phones ring but are never picked up
        self.no_answer_after_s = 0.5  # how long such a phone rings before an Originate gives up (real: its Timeout)
        self.busy: set[str] = set()  # customer numbers that answer busy

    # -- server lifecycle -------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.drop_links()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AmiSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- faults -----------------------------------------------------------------------
    def drop_links(self) -> None:
        """Close every client connection abruptly, as a PBX crash or network cut would."""
        for client in self.clients:
            transport = client.writer.transport
            transport.abort()
        self.clients.clear()

    async def restart(self, queues: dict[str, Sequence[str]] | None = None) -> None:
        """``core restart now``, as the live Asterisk does it (tests/fixtures/ami/live_pbx_restart.ami):
        scenarios stop, each queued caller is abandoned, bridged channels hang up normally
        (cause 16) and the others with cause 0, ``Shutdown`` (Restart: True) is sent, then the
        links drop. Dynamic queue members are gone after it, as with ``persistentmembers = no``."""
        for task in list(self._tasks):
            task.cancel()
        for channel, entry in list(self.pbx.entries.items()):
            caller = self.pbx.channels.get(channel, {})
            self.emit({"Event": "QueueCallerAbandon", "Privilege": "agent,all", **caller,
                       "Queue": entry.get("Queue", ""), "Position": "1", "OriginalPosition": "1", "HoldTime": "0"})
        bridged = {name for name, ch in self.pbx.channels.items() if ch.get("BridgeId")}
        for channel in list(self.pbx.channels):
            if channel in bridged:
                self._hangup(channel, "16", "Normal Clearing")
            else:
                self._hangup(channel, "0", "Unknown")
        self.emit({"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"})
        await self.drain()
        for client in self.clients:
            client.writer.close()  # unlike a crash, what was sent is flushed first
        self.clients.clear()
        self.pbx = SimPbx(queues if queues is not None else self._queues, self._endpoints)

    def crash(self, queues: dict[str, Sequence[str]] | None = None) -> None:
        """A PBX crash (kill -9): links dropped without a word, every call gone, scenarios stopped."""
        for task in list(self._tasks):
            task.cancel()
        self.drop_links()
        self.pbx = SimPbx(queues if queues is not None else self._queues, self._endpoints)

    async def go_down(self) -> None:
        """kill -9 and stay down: links dropped without a word, every call gone, and nothing
        listening until ``start`` again (``crash`` is a PBX that is back at once)."""
        self.crash()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def hold_replies(self, *actions: str) -> None:
        self.hold.update(actions)

    # -- emitting events ----------------------------------------------------------------
    def emit(self, frame: Frame) -> None:
        self.pbx.observe(frame)
        self.emitted += 1
        data = encode_event(frame)
        for client in self.clients:
            if client.logged_in and client.events:
                client.send(data)

    def emit_raw(self, data: bytes, count: int) -> None:
        """Pre-encoded events (the load generator); they do not change the PBX state."""
        self.emitted += count
        for client in self.clients:
            if client.logged_in and client.events:
                client.send(data)

    async def drain(self) -> None:
        for client in list(self.clients):
            with contextlib.suppress(ConnectionError):
                await client.writer.drain()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def play(self, steps: Sequence[Step], speed: float = 1.0) -> None:
        """Emit ``steps`` at their offsets (``speed`` 0 means as fast as possible)."""
        started = time.monotonic()
        for step in steps:
            if speed > 0:
                delay = step.at / speed - (time.monotonic() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
            self.emit(step.frame)
        await self.drain()

    async def play_transcript(self, path: str | Path, speed: float = 1.0, substitute: dict[str, str] | None = None) -> None:
        await self.play(transcript_events(read_transcript(path), substitute), speed)

    async def play_load(self, events_per_s: float, duration_s: float, path: str | Path | None = None,
                        max_events: int | None = None) -> int:
        """Background load: the recorded 10 calls/s mix (mostly VarSet), renumbered each pass.

        Each chunk is renumbered as it is sent: renumbering the whole 18 MB template at the
        start of a pass stalled the simulator for ~0.5 s, then it sent the backlog in one burst.
        """
        chunk_frames = load_template(path).frames
        sent = 0
        started = time.monotonic()
        tick = 0.01
        for generation in itertools.count():
            i = 0
            while i < len(chunk_frames):
                elapsed = time.monotonic() - started
                if elapsed >= duration_s:
                    await self.drain()
                    return sent
                due = int(events_per_s * (elapsed + tick)) - sent if events_per_s > 0 else 200
                if due <= 0:
                    await asyncio.sleep(tick)
                    continue
                if max_events is not None:
                    due = min(due, max_events - sent)
                    if due <= 0:
                        await self.drain()
                        return sent
                part = chunk_frames[i : i + due]
                i += len(part)
                sent += len(part)
                self.emit_raw(renumber(b"\r\n\r\n".join(part) + b"\r\n\r\n", generation), len(part))
                await self.drain()
                if events_per_s <= 0:
                    await asyncio.sleep(0)
        return sent

    async def play_calls(self, calls_per_s: float, agents: Sequence[str], duration_s: float, queue: str = "support",
                         talk_s: float = 3.0, callers: Sequence[str] = ()) -> int:
        """Generated load: ``calls_per_s`` queue calls, each ringing the next of ``agents``
        (round robin), answered after 0.5 s, ``talk_s`` long. Returns the calls started."""
        started = time.monotonic()
        count = 0
        while time.monotonic() - started < duration_s:
            due = int((time.monotonic() - started) * calls_per_s) + 1 - count
            for _ in range(max(due, 0)):
                agent = agents[count % len(agents)]
                caller = callers[count % len(callers)] if callers else f"+1415555{count % 10000:04d}"
                call = QueueCall(caller, queue=queue, ring=[agent], answered_by=agent, ring_s=0.5, talk_s=talk_s)
                self.spawn(self.play(call.steps()))
                count += 1
            await asyncio.sleep(min(0.05, 1 / calls_per_s))
        return count

    # -- the protocol ------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(self, writer)
        self.clients.append(client)
        frames = FrameReader()
        writer.write(BANNER)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for frame in frames.feed(data).frames:
                    if "Action" not in frame:
                        continue
                    await self._handle(client, frame)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)
            writer.close()

    def _reply(self, client: _Client, request: Frame, response: str = "Success", **fields: str) -> None:
        frame: Frame = {"Response": response}
        if "ActionID" in request:
            frame["ActionID"] = request["ActionID"]
        frame.update(fields)
        client.send(encode_event(frame))

    def _list(self, client: _Client, request: Frame, message: str, items: list[Frame], complete: str) -> None:
        self._reply(client, request, EventList="start", Message=message)
        action_id = {"ActionID": request["ActionID"]} if "ActionID" in request else {}
        out = [encode_event({**item, **action_id}) for item in items]
        out.append(encode_event({"Event": complete, **action_id, "EventList": "Complete", "ListItems": str(len(items))}))
        client.send(b"".join(out))

    async def _handle(self, client: _Client, request: Frame) -> None:
        action = request["Action"].strip()
        name = action.lower()
        self.actions[action] += 1
        if name == "challenge":
            client.challenge = str(random.randint(100000000, 999999999))
            self._reply(client, request, Challenge=client.challenge)
            return
        if name == "login":
            ok = request.get("Username") == self.username and (
                request.get("Secret") == self.secret
                or (
                    request.get("AuthType", "").lower() == "md5"
                    and client.challenge
                    and request.get("Key") == hashlib.md5((client.challenge + self.secret).encode()).hexdigest()
                )
            )
            if not ok:
                self._reply(client, request, "Error", Message="Authentication failed")
                return
            client.logged_in = True
            client.events = request.get("Events", "on").lower() != "off"
            self._reply(client, request, Message="Authentication accepted")
            client.send(encode_event({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "4", "LastReload": "4", "Status": "Fully Booted"}))
            return
        if not client.logged_in:
            self._reply(client, request, "Error", Message="Permission denied")
            return
        if action in self.hold:
            return
        handler = getattr(self, f"_action_{name}", None)
        if handler is None:
            self._reply(client, request, "Error", Message="Invalid/unknown command")
            return
        handler(client, request)

    # -- actions ---------------------------------------------------------------------------
    def _action_ping(self, client: _Client, request: Frame) -> None:
        self._reply(client, request, Ping="Pong", Timestamp=f"{time.time():.6f}")

    def _action_logoff(self, client: _Client, request: Frame) -> None:
        self._reply(client, request, "Goodbye", Message="Thanks for all the fish.")
        client.writer.close()

    def _action_events(self, client: _Client, request: Frame) -> None:
        client.events = request.get("EventMask", "on").lower() != "off"
        self._reply(client, request, Events="On" if client.events else "Off")

    def _action_filter(self, client: _Client, request: Frame) -> None:
        self._reply(client, request, Message="Filter Added Successfully")

    def _action_coreshowchannels(self, client: _Client, request: Frame) -> None:
        items = [{"Event": "CoreShowChannel", **ch, "Application": "", "ApplicationData": "", "Duration": "00:00:01"}
                 for ch in self.pbx.channels.values()]
        self._list(client, request, "Channels will follow", items, "CoreShowChannelsComplete")

    def _action_queuestatus(self, client: _Client, request: Frame) -> None:
        wanted = request.get("Queue")
        items: list[Frame] = []
        for queue in sorted(self.pbx.queues):
            if wanted and queue != wanted:
                continue
            items.append({"Event": "QueueParams", "Queue": queue, "Max": "0", "Strategy": "ringall", "Calls": "0"})
            for m in self.pbx.members.values():
                if m.queue == queue:
                    f = m.fields()
                    items.append({"Event": "QueueMember", "Queue": queue, "Name": m.name, "Location": m.interface,
                                  **{k: v for k, v in f.items() if k not in ("Queue", "MemberName", "Interface")}})
            for n, entry in enumerate(e for e in self.pbx.entries.values() if e.get("Queue") == queue):
                items.append({"Event": "QueueEntry", "Queue": queue, "Position": str(n + 1),
                              **_channel_only(entry), "Wait": "1", "Priority": "0"})
        self._list(client, request, "Queue status will follow", items, "QueueStatusComplete")

    def _action_queueadd(self, client: _Client, request: Frame) -> None:
        queue, interface = request.get("Queue", ""), request.get("Interface", "")
        if queue not in self.pbx.queues:
            self._reply(client, request, "Error", Message="Unable to add interface to queue: No such queue")
            return
        if (queue, interface) in self.pbx.members:
            self._reply(client, request, "Error", Message="Unable to add interface: Already there")
            return
        paused = request.get("Paused", "false").lower() in ("1", "true", "yes")
        member = Member(queue, interface, request.get("MemberName") or interface, True, paused, request.get("Reason", ""))
        self.pbx.members[(queue, interface)] = member
        self._reply(client, request, Message="Added interface to queue")
        self.emit({"Event": "QueueMemberAdded", "Privilege": "agent,all", **member.fields()})

    def _action_queueremove(self, client: _Client, request: Frame) -> None:
        key = (request.get("Queue", ""), request.get("Interface", ""))
        member = self.pbx.members.get(key)
        if member is None:
            self._reply(client, request, "Error", Message="Unable to remove interface: Not there")
            return
        if not member.dynamic:
            self._reply(client, request, "Error", Message="Member not dynamic")
            return
        del self.pbx.members[key]
        self._reply(client, request, Message="Removed interface from queue")
        self.emit({"Event": "QueueMemberRemoved", "Privilege": "agent,all", **member.fields()})

    def _action_queuepause(self, client: _Client, request: Frame) -> None:
        interface, queue = request.get("Interface", ""), request.get("Queue")
        paused = request.get("Paused", "true").lower() in ("1", "true", "yes")
        members = [m for m in self.pbx.members.values() if m.interface == interface and (not queue or m.queue == queue)]
        if not members:
            self._reply(client, request, "Error", Message="Interface not found")
            return
        self._reply(client, request, Message="Interface paused successfully" if paused else "Interface unpaused successfully")
        for m in members:
            m.paused = paused
            m.reason = request.get("Reason", "") if paused else ""
            self.emit({"Event": "QueueMemberPause", "Privilege": "agent,all", **m.fields()})

    def _action_hangup(self, client: _Client, request: Frame) -> None:
        channel = request.get("Channel", "")
        if channel not in self.pbx.channels:
            self._reply(client, request, "Error", Message="No such channel")
            return
        self._reply(client, request, Message="Channel Hungup")
        consult = self.consults.pop(channel, None)
        if consult is not None:
            self._end_consult(consult, complete=True)
            return
        for name in [channel, *self.pbx.bridged_with(channel)]:
            self._hangup(name, "16", "Normal Clearing")

    def _hangup(self, channel: str, cause: str, text: str) -> None:
        ch = self.pbx.channels.get(channel)
        if ch is None:
            return
        bridge = ch.get("BridgeId")
        if bridge:
            self.emit({"Event": "BridgeLeave", "Privilege": "call,all", "BridgeUniqueid": bridge, **ch})
        self.emit({"Event": "Hangup", "Privilege": "call,all", **ch, "Cause": cause, "Cause-txt": text})

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
        self.emit({"Event": "Newchannel", "Privilege": "call,all", **frame})
        return frame

    def _set_state(self, frame: Frame, state: int) -> Frame:
        frame = {**frame, "ChannelState": str(state), "ChannelStateDesc": {5: "Ringing", 6: "Up"}.get(state, "Down")}
        self.emit({"Event": "Newstate", "Privilege": "call,all", **frame})
        return frame

    def _action_originate(self, client: _Client, request: Frame) -> None:
        self._reply(client, request, Message="Originate successfully queued")
        self.spawn(self._originate(client, request))

    async def _originate(self, client: _Client, request: Frame) -> None:
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

        if interface not in self.pbx.endpoints:
            await asyncio.sleep(0.01)
            response(False, "0")
            return
        uniqueid = request.get("ChannelId") or ""
        agent = self._new_channel(interface, 0, interface.rsplit("/", 1)[-1], "Click2Dial", uniqueid, uniqueid=uniqueid)
        agent = self._set_state(agent, 5)
        if interface in self.no_answer:  # as Asterisk: OriginateResponse Failure Reason 3, then the Hangup (cause 19)
            await asyncio.sleep(min(float(request.get("Timeout", "30000")) / 1000, self.no_answer_after_s))
            response(False, "3")
            self._hangup(agent["Channel"], "19", "User alerting, no answer")
            return
        await asyncio.sleep(self.answer_delay_s)
        if agent["Channel"] not in self.pbx.channels:
            response(False, "1")
            return
        agent = self._set_state(agent, 6)
        response(True, "4", agent["Uniqueid"])
        exten = request.get("Exten")
        if not exten:
            return
        linkedid = agent["Linkedid"]
        target = f"PJSIP/{exten}" if f"PJSIP/{exten}" in self.pbx.endpoints else "PJSIP/customer"
        other = self._new_channel(target, 0, exten, "", linkedid, agent["CallerIDNum"], uniqueid=f"{linkedid};2")
        self.emit({"Event": "DialBegin", "Privilege": "call,all", **agent, **{"Dest" + k: v for k, v in other.items()}, "DialString": exten})
        if exten in self.busy or exten.lstrip("+") in self.busy:  # the customer's phone answers 486 Busy Here
            self.emit({"Event": "DialEnd", "Privilege": "call,all", **agent, **{"Dest" + k: v for k, v in other.items()}, "DialStatus": "BUSY"})
            self._hangup(other["Channel"], "17", "User busy")
            self._hangup(agent["Channel"], "17", "User busy")
            return
        other = self._set_state(other, 5)
        await asyncio.sleep(self.answer_delay_s)
        if other["Channel"] not in self.pbx.channels or agent["Channel"] not in self.pbx.channels:
            return
        other = self._set_state(other, 6)
        self.emit({"Event": "DialEnd", "Privilege": "call,all", **agent, **{"Dest" + k: v for k, v in other.items()}, "DialStatus": "ANSWER"})
        bridge = f"bridge-{linkedid}"
        for ch in (agent, other):
            self.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": bridge, "BridgeType": "basic", **ch})

    def _action_redirect(self, client: _Client, request: Frame) -> None:
        channel = request.get("Channel", "")
        if channel not in self.pbx.channels:
            self._reply(client, request, "Error", Message="No such channel")
            return
        self._reply(client, request, Message="Redirect successful")
        self.spawn(self._transfer(channel, request.get("Exten", ""), attended=False))

    def _action_atxfer(self, client: _Client, request: Frame) -> None:
        channel = request.get("Channel", "")
        if channel not in self.pbx.channels:
            self._reply(client, request, "Error", Message="No such channel")
            return
        self._reply(client, request, Message="Atxfer successfully queued")
        peers = self.pbx.bridged_with(channel)
        if peers and channel not in self.consults:
            bridge = self.pbx.channels[channel].get("BridgeId", "")
            consult = self.consults[channel] = Consult(channel, peers[0], bridge)
            self.spawn(self._consult(consult, request.get("Exten", "")))

    def _action_cancelatxfer(self, client: _Client, request: Frame) -> None:
        consult = self.consults.pop(request.get("Channel", ""), None)
        if consult is None:
            self._reply(client, request, "Error", Message="No attended transfer to cancel")
            return
        self._reply(client, request, Message="CancelAtxfer successfully queued")
        consult.cancelled = True
        self._end_consult(consult, complete=False)

    async def _consult(self, consult: Consult, exten: str) -> None:
        """As Asterisk does it: the transferrer is put on hold, a ``Local/`` leg dials the
        target on the same Linkedid, and the call changes hands only when the transferrer
        hangs up (``AttendedTransfer``); ``CancelAtxfer`` or no answer gives it back."""
        agent = self.pbx.channels.get(consult.transferer)
        if agent is None:
            return
        linkedid = agent["Linkedid"]
        self.emit({"Event": "Hold", "Privilege": "call,all", **agent})
        await asyncio.sleep(self.answer_delay_s)  # the pbx-transfer prompt and the digit timeout
        interface = f"PJSIP/{exten}"
        if consult.cancelled or interface not in self.pbx.endpoints:
            self.consults.pop(consult.transferer, None)
            self.emit({"Event": "Unhold", "Privilege": "call,all", **agent})
            return
        local = f"Local/{exten}@agents"
        local1 = self._new_channel(local, 0, exten, "", linkedid, suffix=";1")
        local2 = self._new_channel(local, 4, exten, "", linkedid, suffix=";2")
        consult.local1, consult.local2 = local1["Channel"], local2["Channel"]
        leg = self._new_channel(interface, 0, exten, f"Agent {exten}", linkedid, agent.get("CallerIDNum", ""))
        consult.target = leg["Channel"]
        self.emit({"Event": "DialBegin", "Privilege": "call,all", **local2, **{"Dest" + k: v for k, v in leg.items()}, "DialString": exten})
        side = f"consult-{consult.transferer}"
        self.emit({"Event": "BridgeLeave", "Privilege": "call,all", "BridgeUniqueid": consult.bridge, **agent})
        for ch in (local1, agent):
            self.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": side, "BridgeType": "basic", **ch})
        leg = self._set_state(leg, 5)
        await asyncio.sleep(self.answer_delay_s)
        if consult.cancelled or consult.target not in self.pbx.channels or interface in self.no_answer:
            return  # CancelAtxfer (or the transferrer hanging up) already ended it; a phone nobody picks up rings on
        leg = self._set_state(leg, 6)
        self.emit({"Event": "DialEnd", "Privilege": "call,all", **local2, **{"Dest" + k: v for k, v in leg.items()}, "DialStatus": "ANSWER"})
        for ch in (leg, local2):
            self.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": f"{side}-far", "BridgeType": "basic", **ch})
        consult.answered = True

    def _end_consult(self, consult: Consult, complete: bool) -> None:
        agent = self.pbx.channels.get(consult.transferer, {})
        customer = self.pbx.channels.get(consult.customer, {})
        if complete and consult.answered:
            self.emit({"Event": "AttendedTransfer", "Privilege": "call,all", "Result": "Success",
                       "OrigTransfererChannel": consult.transferer, "OrigTransfererLinkedid": agent.get("Linkedid", ""),
                       "TransfereeChannel": consult.customer, "TransfereeLinkedid": customer.get("Linkedid", ""),
                       "TransferTargetChannel": consult.local1, "DestType": "Bridge"})
            self._hangup(consult.transferer, "16", "Normal Clearing")
            for name in (consult.local1, consult.local2):  # the Local/ pair optimises away
                self._hangup(name, "16", "Normal Clearing")
            target = self.pbx.channels.get(consult.target)
            if target is not None:
                self.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": consult.bridge, "BridgeType": "basic", **target})
            return
        if consult.target in self.pbx.channels and not consult.answered:
            leg = self.pbx.channels[consult.target]
            local2 = self.pbx.channels.get(consult.local2, {})
            self.emit({"Event": "DialEnd", "Privilege": "call,all", **local2, **{"Dest" + k: v for k, v in leg.items()}, "DialStatus": "CANCEL"})
        for name in (consult.local1, consult.local2, consult.target):
            self._hangup(name, "16", "Normal Clearing")
        if complete:  # hung up before the consulted agent answered: the call ends with them
            self._hangup(consult.transferer, "16", "Normal Clearing")
            self._hangup(consult.customer, "16", "Normal Clearing")
            return
        if agent:
            self.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": consult.bridge, "BridgeType": "basic", **agent})
            self.emit({"Event": "Unhold", "Privilege": "call,all", **agent})

    async def _transfer(self, channel: str, exten: str, attended: bool, transferer: str | None = None) -> None:
        """Move ``channel`` (the customer) to ``exten``: the old agent leg leaves, the new one rings.

        A blind transfer (AMI ``Redirect``) in the live Asterisk's order
        (tests/fixtures/ami/live_blind_transfer.ami): the customer leaves the bridge, then the
        agent, who hangs up (cause 16); the new leg is dialled and, answered, enters the new
        bridge before the customer. Asterisk sends no ``BlindTransfer`` for a Redirect."""
        customer = self.pbx.channels.get(channel)
        if customer is None:
            return
        peers = [transferer] if transferer else self.pbx.bridged_with(channel)
        if not attended and customer.get("BridgeId"):
            self.emit({"Event": "BridgeLeave", "Privilege": "call,all", "BridgeUniqueid": customer["BridgeId"], **customer})
            customer = self.pbx.channels.get(channel, customer)
        for peer in peers:
            if peer:
                self._hangup(peer, "16", "Normal Clearing")
        interface = f"PJSIP/{exten}"
        if interface not in self.pbx.endpoints:
            return
        leg = self._new_channel(interface, 0, exten, f"Agent {exten}", customer["Linkedid"], customer.get("CallerIDNum", ""))
        self.emit({"Event": "DialBegin", "Privilege": "call,all", **customer, **{"Dest" + k: v for k, v in leg.items()}, "DialString": interface})
        leg = self._set_state(leg, 5)
        await asyncio.sleep(self.answer_delay_s)
        leg = self._set_state(leg, 6)
        self.emit({"Event": "DialEnd", "Privilege": "call,all", **customer, **{"Dest" + k: v for k, v in leg.items()}, "DialStatus": "ANSWER"})
        if attended:
            self.emit({"Event": "AttendedTransfer", "Privilege": "call,all", "Result": "Success", "TransfereeChannel": channel,
                       "TransfereeLinkedid": customer["Linkedid"], "Extension": exten})
        bridge = f"bridge-{customer['Linkedid']}-{exten}"
        for ch in (leg, customer) if not attended else (customer, leg):
            self.emit({"Event": "BridgeEnter", "Privilege": "call,all", "BridgeUniqueid": bridge, "BridgeType": "basic", **ch})


__all__ = ["AmiSimulator", "QueueCall"]
