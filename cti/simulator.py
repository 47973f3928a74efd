"""An AMI server that speaks the real wire protocol, for tests, ``make demo`` and the benchmark.

It writes the banner (without a blank line, as Asterisk does), accepts ``Login`` in clear
or after an MD5 ``Challenge``, answers actions with their ActionID (lists as
``EventList: start`` … ``Complete``), and hands the actions that change calls and queues
to the PBX behind it (``pbx``, a ``cti.simulated_pbx.SimPbx``). That PBX sees every event
emitted, so ``CoreShowChannels`` and ``QueueStatus`` always agree with what was played.

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
from cti.simulated_pbx import SimPbx

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


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

    def reply(self, request: Frame, response: str = "Success", **fields: str) -> None:
        frame: Frame = {"Response": response}
        if "ActionID" in request:
            frame["ActionID"] = request["ActionID"]
        frame.update(fields)
        self.send(encode_event(frame))

    def send_list(self, request: Frame, message: str, items: list[Frame], complete: str) -> None:
        self.reply(request, EventList="start", Message=message)
        action_id = {"ActionID": request["ActionID"]} if "ActionID" in request else {}
        out = [encode_event({**item, **action_id}) for item in items]
        out.append(encode_event({"Event": complete, **action_id, "EventList": "Complete", "ListItems": str(len(items))}))
        self.send(b"".join(out))


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
        default_queues: dict[str, Sequence[str]] = {"support": [f"PJSIP/100{n}" for n in range(1, 6)], "sales": []}
        self.pbx = SimPbx(self, queues if queues is not None else default_queues, endpoints, answer_delay_s)
        self.actions: collections.Counter[str] = collections.Counter()
        self.emitted = 0
        self.clients: list[_Client] = []
        self.hold: set[str] = set()  # actions received (and counted) but never answered
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

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
                self.pbx.hang_up(channel, "16", "Normal Clearing")
            else:
                self.pbx.hang_up(channel, "0", "Unknown")
        self.emit({"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"})
        await self.drain()
        for client in self.clients:
            client.writer.close()  # unlike a crash, what was sent is flushed first
        self.clients.clear()
        self.pbx.reset(queues)

    def crash(self, queues: dict[str, Sequence[str]] | None = None) -> None:
        """A PBX crash (kill -9): links dropped without a word, every call gone, scenarios stopped."""
        for task in list(self._tasks):
            task.cancel()
        self.drop_links()
        self.pbx.reset(queues)

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

    async def _handle(self, client: _Client, request: Frame) -> None:
        action = request["Action"].strip()
        name = action.lower()
        self.actions[action] += 1
        if name == "challenge":
            client.challenge = str(random.randint(100000000, 999999999))
            client.reply(request, Challenge=client.challenge)
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
                client.reply(request, "Error", Message="Authentication failed")
                return
            client.logged_in = True
            client.events = request.get("Events", "on").lower() != "off"
            client.reply(request, Message="Authentication accepted")
            client.send(encode_event({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "4", "LastReload": "4", "Status": "Fully Booted"}))
            return
        if not client.logged_in:
            client.reply(request, "Error", Message="Permission denied")
            return
        if action in self.hold:
            return
        # The server's own actions first: a subclass can wrap one of the PBX's (e.g. count Originates).
        handler = getattr(self, f"_action_{name}", None) or getattr(self.pbx, f"action_{name}", None)
        if handler is None:
            client.reply(request, "Error", Message="Invalid/unknown command")
            return
        handler(client, request)

    # -- actions ---------------------------------------------------------------------------
    def _action_ping(self, client: _Client, request: Frame) -> None:
        client.reply(request, Ping="Pong", Timestamp=f"{time.time():.6f}")

    def _action_logoff(self, client: _Client, request: Frame) -> None:
        client.reply(request, "Goodbye", Message="Thanks for all the fish.")
        client.writer.close()

    def _action_events(self, client: _Client, request: Frame) -> None:
        client.events = request.get("EventMask", "on").lower() != "off"
        client.reply(request, Events="On" if client.events else "Off")

    def _action_filter(self, client: _Client, request: Frame) -> None:
        client.reply(request, Message="Filter Added Successfully")


__all__ = ["AmiSimulator", "QueueCall"]
