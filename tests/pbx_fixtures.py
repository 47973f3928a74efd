"""A live PBX for the tests in ``tests/pbx/``: the shared Asterisk, sipp phones and customers,
and the real Frontdesk server wired to it.

Loaded by ``tests/conftest.py``. The PBX is found through ``FRONTDESK_PBX_DIR`` (the folder
holding ``start-asterisk``, e.g. ``../shared/pbx``); without it, or without ``sipp``, the live
tests skip, unless ``FRONTDESK_REQUIRE_SERVICES`` is set (then they fail).

* ``pbx`` (session): Asterisk started with ``tests/fixtures/pbx/`` rendered with ports chosen
  free for this session (AMI, SIP, RTP, each agent phone, the customer side), stopped at the end.
  ``pbx.cli("queue show support")`` runs a CLI command; ``pbx.probe()`` opens an AMI client of
  the test's own (not the product's) to ask Asterisk what it has (``channels()``, ``queue()``).
* ``lab`` (per test): the PBX, phones and customers, and a clean PBX afterwards (sipp stopped,
  channels hung up, every queue member removed). ``await lab.serve()`` starts the real server
  (the full app, CTI included) wired to the PBX, with agents at 1001..1004.
* ``live`` (per test): ``lab`` with the server already serving and its AMI link up.

In a test: ``lab.phones.start("1001", answer_ms=1000)`` is Alice's desk phone (``-1``: never
answers); ``await lab.customers.call("+8613800138000", "8000", talk_ms=3000)`` is a customer
calling the support line; ``await lab.console("agent")`` logs an agent in and records what their
console's WebSocket receives (``await console.next("cti.pop")``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import importlib.util
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from web_fixtures import PASSWORD, STAFF, StaffClient, WebSite

from config.app import build_app, build_services
from config.services import Services
from config.settings import Settings
from core.records import TimelineEntry
from core.users import add_user
from cti.plugin import CTI
from cti.records import CallRecord
from cti.service import CtiService
from cti.settings import PbxSettings

PBX_DIR_ENV = "FRONTDESK_PBX_DIR"
RECORD_ENV = "FRONTDESK_PBX_RECORD"  # a folder: scenarios that record AMI transcripts write them there
CONF_DIR = Path(__file__).parent / "fixtures" / "pbx"
BUSY_PHONE = CONF_DIR / "sipp" / "uas_busy.xml"
AMI_USERNAME = "cti"
AMI_SECRET = "live-suite-secret"
AGENT_EXTENSIONS = ("1001", "1002", "1003", "1004", "1005")
# Who sits at which phone in the served site (``supervisor`` has no phone). ``agent5`` and
# ``agent6`` have browser softphones (WebRTC endpoints 1006, 1007: no sipp phone behind them).
STAFF_EXTENSIONS = {"agent": "1001", "agent2": "1002", "agent3": "1003", "agent4": "1004",
                    "agent5": "1006", "agent6": "1007"}
SOFTPHONE_STAFF = frozenset({"agent5", "agent6"})
QUEUES = ("support", "loadq", "sales")
RTP_PORTS = 1000
BOOT_TIMEOUT_S = 60


# -- finding what the live suite needs ------------------------------------------------------
def _need(available: bool, what: str) -> None:
    from conftest import need_service

    need_service(available, what)


def pbx_dir() -> Path:
    """The folder with ``start-asterisk`` (skip, or fail under FRONTDESK_REQUIRE_SERVICES, without it)."""
    value = os.environ.get(PBX_DIR_ENV, "")
    folder = Path(value) if value else None
    _need(folder is not None and (folder / "start-asterisk").is_file(), f"a PBX ({PBX_DIR_ENV} naming the folder with start-asterisk)")
    assert folder is not None
    return folder.resolve()


def sipp_path() -> str:
    path = shutil.which("sipp")
    _need(path is not None, "sipp (Debian package sip-tester)")
    assert path is not None
    return path


# -- ports -------------------------------------------------------------------------------
def _bindable(port: int, kinds: tuple[int, ...] = (socket.SOCK_DGRAM,)) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


class PortPool:
    """Ports for one session, from one random window below the kernel's ephemeral range (where
    the OS's own picks never land) found free when the session starts; each port is checked
    again when handed out, and one found taken is skipped. Two sessions pick different windows."""

    LOW, HIGH = 10_000, 30_000

    def __init__(self, size: int = 3000) -> None:
        self.size = size
        for _attempt in range(50):
            self.start = random.randrange(self.LOW, self.HIGH - size)
            if all(_bindable(p) for p in range(self.start, self.start + size, 5)):
                break
        self.next = self.floor = self.start

    def fix(self) -> None:
        """What was handed out so far stays the session's (Asterisk's ports): never handed out again."""
        self.floor = self.next

    def take(self, count: int = 1, tcp: bool = False) -> int:
        """The first of ``count`` consecutive free ports (UDP, and TCP too when ``tcp``)."""
        kinds = (socket.SOCK_DGRAM, socket.SOCK_STREAM) if tcp else (socket.SOCK_DGRAM,)
        scanned = 0
        while scanned < 2 * self.size:
            if self.next + count > self.start + self.size:
                self.next = self.floor
            base = self.next
            taken = next((p for p in range(base, base + count) if not _bindable(p, kinds)), None)
            if taken is None:
                self.next = base + count
                return base
            self.next = taken + 1
            scanned += taken + 1 - base
        raise RuntimeError(f"no {count} free consecutive ports in {self.start}..{self.start + self.size}")


@dataclasses.dataclass(frozen=True)
class PbxPorts:
    ami: int
    sip: int
    rtp_start: int
    rtp_end: int
    phones: dict[str, int]
    customer: int
    http: int  # Asterisk's HTTP server: the browser softphones' SIP over WebSocket

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http}/ws"

    def substitutions(self, secret: str) -> dict[str, str]:
        values = {"AMI_PORT": self.ami, "SIP_PORT": self.sip, "RTP_START": self.rtp_start,
                  "RTP_END": self.rtp_end, "CUSTOMER_PORT": self.customer, "AMI_SECRET": secret,
                  "HTTP_PORT": self.http}
        values.update({f"PHONE_{ext}": port for ext, port in self.phones.items()})
        return {k: str(v) for k, v in values.items()}


def render_conf(source: Path, target: Path, values: dict[str, str]) -> None:
    """Copy ``*.conf`` and render ``*.conf.in`` (``@NAME@`` → value) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.name.endswith(".conf"):
            shutil.copyfile(path, target / path.name)
        elif path.name.endswith(".conf.in"):
            text = re.sub(r"@([A-Z0-9_]+)@", lambda m: values[m.group(1)], path.read_text())
            (target / path.name.removesuffix(".in")).write_text(text)


# -- Asterisk ---------------------------------------------------------------------------------
class Pbx:
    """The shared Asterisk, run with this project's configuration in a work folder of its own."""

    def __init__(self, home: Path, workdir: Path, pool: PortPool) -> None:
        self.home = home
        self.workdir = workdir
        self.pool = pool
        ami = pool.take(tcp=True)
        sip = pool.take()
        rtp = pool.take(RTP_PORTS)
        self.ports = PbxPorts(ami, sip, rtp, rtp + RTP_PORTS - 1,
                              {ext: pool.take() for ext in AGENT_EXTENSIONS}, pool.take(), pool.take(tcp=True))
        pool.fix()
        self.conf = workdir / "conf"
        render_conf(CONF_DIR, self.conf, self.ports.substitutions(AMI_SECRET))
        self.pid: int | None = None

    def start(self) -> None:
        """Start and wait until fully booted; once more if the first start fails (the first
        unpack of the build is occasionally slow)."""
        try:
            self._start()
        except RuntimeError:
            self.stop()
            self._start()

    def _start(self) -> None:
        env = dict(os.environ, PATH=f"{self._quiet_ldconfig()}{os.pathsep}{os.environ.get('PATH', '')}")
        done = subprocess.run(
            [str(self.home / "start-asterisk"), "--conf", str(self.conf), "--workdir", str(self.workdir),
             "--timeout", str(BOOT_TIMEOUT_S)],
            capture_output=True, text=True, timeout=BOOT_TIMEOUT_S + 120, env=env,
        )
        if done.returncode != 0:
            if "Illegal instruction" in done.stderr:
                raise RuntimeError(
                    f"the Asterisk build of {self.home} does not run on this CPU: it was compiled for instructions "
                    "this machine lacks (BUILD_NATIVE on a newer CPU). Rebuild it here as its README's "
                    "'How it was built' says, with BUILD_NATIVE disabled in menuselect."
                )
            raise RuntimeError(f"start-asterisk failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        self.pid = int(done.stdout.strip().splitlines()[-1])
        self._wait_for_ami()

    def _quiet_ldconfig(self) -> Path:
        """A folder whose ``ldconfig`` runs the real one but exits 0 when its reader hangs up.

        start-asterisk checks each library with ``ldconfig -p | grep -q LIB`` under
        ``set -o pipefail``: grep leaves at its first match, ldconfig's next write then dies of
        SIGPIPE, and the pipeline fails as if the library were missing — for a library listed
        early, a few starts in a hundred. A missing library still fails: grep finds nothing.
        """
        folder = self.workdir / "bin"
        shim = folder / "ldconfig"
        if not shim.exists():
            real = shutil.which("ldconfig") or "/usr/sbin/ldconfig"
            folder.mkdir(parents=True, exist_ok=True)
            shim.write_text(
                f"#!{sys.executable}\n"
                "import os, subprocess, sys\n"
                f"out = subprocess.run([{real!r}, *sys.argv[1:]], stdout=subprocess.PIPE).stdout\n"
                "try:\n"
                "    sys.stdout.buffer.write(out)\n"
                "    sys.stdout.buffer.flush()\n"
                "except BrokenPipeError:\n"
                "    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())\n"
            )
            shim.chmod(0o755)
        return folder

    def _wait_for_ami(self, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.ports.ami), timeout=1.0) as s:
                    if s.recv(64).startswith(b"Asterisk Call Manager"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Asterisk's AMI is not answering on {self.ports.ami}")
            time.sleep(0.1)

    def stop(self) -> None:
        subprocess.run([str(self.home / "stop-asterisk"), str(self.workdir)], capture_output=True, timeout=30)
        self.pid = None

    @property
    def running(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def crash(self) -> None:
        """kill -9: Asterisk goes away without a word (no Hangup, no Shutdown)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while self.running and time.monotonic() < deadline:
                time.sleep(0.02)
            self.pid = None
        (self.workdir / "asterisk.pid").unlink(missing_ok=True)

    def cli(self, command: str, timeout: float = 15.0) -> str:
        done = subprocess.run([str(self.home / "asterisk-cli"), str(self.workdir), command],
                              capture_output=True, text=True, timeout=timeout)
        return done.stdout

    def restart_now(self) -> None:
        """``core restart now`` (channels hung up with normal Hangups, then the link drops);
        returns once the restarted Asterisk answers on AMI again."""
        old = self.pid
        self.cli("core restart now")
        # Asterisk restarts by exec'ing itself: the process id stays the same.
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        time.sleep(0.5)
        while "fully booted" not in self.cli("core waitfullybooted", timeout=5).lower() or not _ami_open(self.ports.ami):
            if time.monotonic() > deadline:
                raise RuntimeError("Asterisk did not come back after core restart now")
            time.sleep(0.2)
        self.pid = old

    def probe(self, events: str = "off", transcript: Path | None = None) -> AmiProbe:
        """An AMI client of the test's own (``events``: an event mask to record, e.g. ``"call,agent"``;
        ``transcript``: a file to write the session to, in the format of tests/fixtures/ami)."""
        return AmiProbe(self.ports.ami, AMI_USERNAME, AMI_SECRET, events, transcript)


def _ami_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            return s.recv(64).startswith(b"Asterisk Call Manager")
    except OSError:
        return False


# -- asking Asterisk itself ------------------------------------------------------------------
class AmiProbe:
    """The test's own AMI client, independent of the product's link: what Asterisk reports.

    With ``events`` (an AMI event mask such as ``"call,agent"``) it also records every event
    Asterisk sends, so a test can compare the console with what the PBX really did
    (``rung()``: which agents Asterisk rang for which call)."""

    def __init__(self, port: int, username: str, secret: str, events: str = "off", transcript: Path | None = None) -> None:
        self.port = port
        self.username = username
        self.secret = secret
        self.mask = events
        self.transcript = transcript.open("wb") if transcript is not None else None
        self._connected_at = 0.0
        self.writer: asyncio.StreamWriter | None = None
        self.events: list[dict[str, str]] = []
        self._replies: dict[str, asyncio.Queue[dict[str, str]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AmiProbe:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._connected_at = time.time()
        self._record("RX", await reader.readline())  # banner
        self._reader = asyncio.create_task(self._read(reader), name="ami-probe")
        reply = await self._send("Login", {"Username": self.username, "Secret": self.secret, "Events": self.mask})
        if reply[0].get("Response") != "Success":
            raise RuntimeError(f"probe login refused: {reply[0]}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        if self.transcript is not None:
            self.transcript.close()

    def _record(self, direction: str, data: bytes) -> None:
        """One message in the transcript format of tests/fixtures/ami/README.txt."""
        if self.transcript is None:
            return
        now = time.time()
        stamp = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.transcript.write(f"### {direction} {now:.6f} {stamp} +{now - self._connected_at:.6f}\r\n".encode() + data)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frame: dict[str, str] = {}
        raw = b""
        while data := await reader.readline():
            raw += data
            line = data.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(":")
                frame.setdefault(key.strip(), value.strip())
                continue
            if not frame:
                raw = b""
                continue
            self._record("RX", raw)
            raw = b""
            replies = self._replies.get(frame.get("ActionID", ""))
            if replies is not None:
                replies.put_nowait(frame)
            elif "Event" in frame:
                self.events.append(frame)
            frame = {}

    async def _send(self, action: str, headers: dict[str, str] | None = None) -> list[dict[str, str]]:
        """The response, then any list items up to the ``...Complete`` event."""
        assert self.writer is not None
        action_id = f"probe-{next(self._ids)}"
        replies = self._replies[action_id] = asyncio.Queue()
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._record("TX", data)
        self.writer.write(data)
        frames: list[dict[str, str]] = []
        try:
            async with asyncio.timeout(15):
                while True:
                    frame = await replies.get()
                    frames.append(frame)
                    if "Event" not in frame:
                        listing = frame.get("EventList", "").lower() == "start" or "follow" in frame.get("Message", "")
                        if not listing or frame.get("Response") == "Error":
                            return frames
                    elif frame.get("EventList", "").lower() == "complete":
                        return frames
        finally:
            del self._replies[action_id]

    async def action(self, action: str, **headers: str) -> list[dict[str, str]]:
        return await self._send(action, headers)

    async def channels(self) -> list[dict[str, str]]:
        """``CoreShowChannels``: every channel Asterisk has now."""
        frames = await self._send("CoreShowChannels")
        return [f for f in frames if f.get("Event") == "CoreShowChannel"]

    async def until_no_channels(self, within: float = 5.0) -> None:
        for _poll in range(int(within / 0.1)):
            if not await self.channels():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"Asterisk still has channels after {within:g}s: {await self.interfaces()}")

    async def until_up(self, *interfaces: str, within: float = 10.0) -> None:
        """Until Asterisk has exactly these interfaces' channels, all answered (state Up)."""
        states: dict[str, str] = {}
        for _poll in range(int(within / 0.1)):
            states = {c["Channel"].rsplit("-", 1)[0]: c.get("ChannelStateDesc", "") for c in await self.channels()}
            if states == dict.fromkeys(interfaces, "Up"):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"Asterisk's channels are {states}, not {list(interfaces)} all Up")

    async def interfaces(self) -> list[str]:
        """The interfaces with a channel now (``PJSIP/1001``, ``PJSIP/customer``), sorted."""
        return sorted(c["Channel"].rsplit("-", 1)[0] for c in await self.channels())

    async def queue(self, name: str) -> QueueView:
        """``QueueStatus`` of one queue: its members and waiting callers."""
        frames = await self._send("QueueStatus", {"Queue": name})
        members = {f["Location"]: f for f in frames if f.get("Event") == "QueueMember"}
        callers = [f for f in frames if f.get("Event") == "QueueEntry"]
        params = next((f for f in frames if f.get("Event") == "QueueParams"), {})
        return QueueView(name, members, callers, params)

    def seen(self, event: str) -> list[dict[str, str]]:
        return [e for e in self.events if e.get("Event") == event]

    def rung(self) -> set[tuple[str, str]]:
        """(interface, Linkedid) of every agent phone Asterisk rang: queue ``AgentCalled`` and
        ``DialBegin`` towards an agent's endpoint."""
        rung = {(e.get("Interface", ""), e.get("Linkedid", "")) for e in self.seen("AgentCalled")}
        rung |= {(e["DestChannel"].rsplit("-", 1)[0], e.get("Linkedid", "")) for e in self.seen("DialBegin")
                 if e.get("DestChannel", "").startswith("PJSIP/100")}
        return rung

@dataclasses.dataclass(frozen=True)
class QueueView:
    name: str
    members: dict[str, dict[str, str]]  # interface -> QueueMember fields
    callers: list[dict[str, str]]
    params: dict[str, str]

    def paused(self, interface: str) -> bool:
        return self.members[interface].get("Paused") == "1"

    def counter(self, key: str) -> int:
        """A QueueParams counter: Completed, Abandoned, Calls..."""
        return int(self.params.get(key, "0"))


# -- sipp: agent phones and customers ---------------------------------------------------------
class Scenarios:
    """sipp scenario files made on demand with the PBX's own generator (``sipp/gen_sipp.py``)."""

    def __init__(self, home: Path, folder: Path) -> None:
        spec = importlib.util.spec_from_file_location("gen_sipp", home / "sipp" / "gen_sipp.py")
        assert spec is not None and spec.loader is not None
        self.generator = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.generator)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def phone(self, answer_ms: int) -> Path:
        return self._file(f"uas_{answer_ms}.xml", lambda: self.generator.uas_agent(answer_ms))

    def customer(self, talk_ms: int, speaks: bool = False) -> Path:
        """``speaks``: the customer sends audio once answered (G.711 A-law from sipp's
        ``g711a.pcap``, about 8 s), so a call's media can be seen flowing both ways."""
        if speaks:
            return self._file(f"uac_{talk_ms}_speaks.xml", lambda: speaking(self.generator.uac_customer(talk_ms)))
        return self._file(f"uac_{talk_ms}.xml", lambda: self.generator.uac_customer(talk_ms))

    def _file(self, name: str, make: Callable[[], str]) -> Path:
        path = self.folder / name
        if not path.exists():
            path.write_text(make())
        return path


SIPP_AUDIO = Path("/usr/share/sip-tester/g711a.pcap")  # shipped with Debian's sip-tester


def speaking(scenario: str) -> str:
    """A customer scenario that offers A-law and plays sipp's sample audio after its ACK."""
    scenario = scenario.replace("m=audio [media_port] RTP/AVP 0", "m=audio [media_port] RTP/AVP 8")
    scenario = scenario.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000")
    play = f'  <nop><action><exec play_pcap_audio="{SIPP_AUDIO}"/></action></nop>\n'
    head, marker, tail = scenario.partition('  <recv request="BYE"')
    return head + play + marker + tail


class SippProcess:
    def __init__(self, args: list[str], cwd: Path, label: str) -> None:
        self.label = label
        self.log = cwd / f"{label}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    async def wait(self, within: float = 60.0) -> int:
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"sipp {self.label} still running after {within:g}s")
            await asyncio.sleep(0.05)
        return self.process.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


class Phones:
    """Agents' desk phones: one sipp UAS per extension, at the port Asterisk's contact names."""

    def __init__(self, pbx: Pbx, scenarios: Scenarios, sipp: str, folder: Path) -> None:
        self.pbx = pbx
        self.scenarios = scenarios
        self.sipp = sipp
        self.folder = folder
        self.running: dict[str, SippProcess] = {}
        self.customer_line: SippProcess | None = None

    def _uas(self, port: int, answer_ms: int | None, label: str) -> SippProcess:
        """A sipp UAS on ``port`` answering after ``answer_ms`` (-1: never; None: busy)."""
        media = self.pbx.pool.take(4)
        scenario = BUSY_PHONE if answer_ms is None else self.scenarios.phone(answer_ms)
        process = SippProcess([self.sipp, "-sf", str(scenario), "-i", "127.0.0.1",
                               "-p", str(port), "-mp", str(media), "-nostdin", "-max_socket", "2000"],
                              self.folder, label)
        _wait_bound(port, process)
        return process

    def start(self, extension: str, answer_ms: int | None = 1000) -> None:
        """The phone at ``extension`` rings and answers after ``answer_ms`` (-1: never answers;
        None: busy, every call refused with 486)."""
        self.stop(extension)
        self.running[extension] = self._uas(self.pbx.ports.phones[extension], answer_ms, f"phone-{extension}-{answer_ms}")

    def customers_answer(self, answer_ms: int | None = 500) -> None:
        """The customer side of click-to-dial: numbers dialled out ring here and answer after
        ``answer_ms`` (-1: never; None: busy). Without it nobody listens (the call fails)."""
        if self.customer_line is not None:
            self.customer_line.stop()
        self.customer_line = self._uas(self.pbx.ports.customer, answer_ms, f"customers-{answer_ms}")

    def stop(self, extension: str) -> None:
        process = self.running.pop(extension, None)
        if process is not None:
            process.stop()

    def stop_all(self) -> None:
        for extension in list(self.running):
            self.stop(extension)
        if self.customer_line is not None:
            self.customer_line.stop()
            self.customer_line = None


def _wait_bound(port: int, process: SippProcess, within: float = 5.0) -> None:
    """Until sipp listens on ``port`` (a call placed before that would find no phone)."""
    deadline = time.monotonic() + within
    while _bindable(port):
        if process.process.poll() is not None:
            raise RuntimeError(f"sipp {process.label} exited: {process.log.read_text()[-1000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"sipp {process.label} is not listening on {port}")
        time.sleep(0.02)


@dataclasses.dataclass(frozen=True)
class Caller:
    number: str
    dest: str
    name: str = ""


class Customers:
    """Customers calling in: sipp UACs reading caller, dialled number and name from a CSV."""

    def __init__(self, pbx: Pbx, scenarios: Scenarios, sipp: str, folder: Path) -> None:
        self.pbx = pbx
        self.scenarios = scenarios
        self.sipp = sipp
        self.folder = folder
        self.running: list[SippProcess] = []
        self._seq = itertools.count(1)

    def place(self, callers: list[Caller], talk_ms: int = 5000, rate: float | None = None, speaks: bool = False) -> SippProcess:
        """Start the calls (one after another at ``rate`` calls/s, else all at once); wait on the result.
        ``speaks``: each customer sends audio once answered."""
        n = next(self._seq)
        csv = self.folder / f"callers-{n}.csv"
        csv.write_text("SEQUENTIAL\n" + "".join(f"{c.number};{c.dest};{c.name};\n" for c in callers))
        port = self.pbx.pool.take()
        media = self.pbx.pool.take(4)
        args = [self.sipp, f"127.0.0.1:{self.pbx.ports.sip}", "-sf", str(self.scenarios.customer(talk_ms, speaks)),
                "-inf", str(csv), "-i", "127.0.0.1", "-p", str(port), "-mp", str(media),
                "-m", str(len(callers)), "-nostdin", "-max_socket", "2000"]
        args += ["-r", str(rate), "-rp", "1000"] if rate else ["-r", str(len(callers)), "-rp", "1"]
        if rate:
            args += ["-l", str(len(callers))]
        process = SippProcess(args, self.folder, f"customers-{n}")
        self.running.append(process)
        return process

    def call(self, number: str, dest: str = "8000", name: str = "", talk_ms: int = 5000, speaks: bool = False) -> SippProcess:
        """One customer calls ``dest``; hangs up ``talk_ms`` after the PBX answers (unless hung up on)."""
        return self.place([Caller(number, dest, name)], talk_ms, speaks=speaks)

    def stop_all(self) -> None:
        for process in self.running:
            process.stop()
        self.running.clear()


# -- the agent's console ---------------------------------------------------------------------
@dataclasses.dataclass
class Frame:
    at: float  # time.monotonic() when received
    event: str
    data: dict[str, Any]


class Console:
    """An agent logged in, with their console's WebSocket open and every frame it receives recorded."""

    def __init__(self, login: str, client: StaffClient, ws: ClientWebSocketResponse) -> None:
        self.login = login
        self.client = client
        self.ws = ws
        self.frames: list[Frame] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"console-{login}")

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            self.frames.append(Frame(time.monotonic(), body.get("event", ""), dict(body.get("data") or {})))
            self._arrived.set()

    def received(self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _d: True) -> list[dict[str, Any]]:
        return [f.data for f in self.frames if f.event == event and where(f.data)]

    async def next(self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _d: True,
                   within: float = 15.0, after: int = 0) -> dict[str, Any]:
        """The first ``event`` frame (from index ``after``) matching ``where``, waiting for it."""
        deadline = time.monotonic() + within
        while True:
            for frame in self.frames[after:]:
                if frame.event == event and where(frame.data):
                    return frame.data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [f.event for f in self.frames]
                raise AssertionError(f"{self.login}'s console got no {event} within {within:g}s (got {seen})")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.5)):
                    await self._arrived.wait()

    async def api(self, method: str, path: str, json: Any = None, status: int | None = 200) -> Any:
        return await self.client.api(method, path, json=json, status=status)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.ws.close()


# -- the lab: PBX, phones, customers, the server ---------------------------------------------
async def until(condition: Callable[[], bool], within: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within:g}s")
        await asyncio.sleep(0.02)


class Lab:
    def __init__(self, pbx: Pbx, settings: Settings, phones: Phones, customers: Customers) -> None:
        self.pbx = pbx
        self.settings = settings
        self.phones = phones
        self.customers = customers
        self.site: WebSite | None = None
        self.services: Services | None = None
        self._server: TestServer | None = None
        self.consoles: list[Console] = []

    def pbx_settings(self, **overrides: Any) -> PbxSettings:
        values: dict[str, Any] = {"name": "live", "port": self.pbx.ports.ami, "username": AMI_USERNAME,
                                  "secret": AMI_SECRET, "ping_interval": 1.0, "ping_timeout": 2.0,
                                  "action_timeout": 5.0, "softphone_ws_url": self.pbx.ports.ws_url,
                                  "softphone_offline_grace_s": 2.0}
        values.update(overrides)
        return PbxSettings.model_validate(values)

    async def serve(self, wait_link: bool = True, **pbx_overrides: Any) -> WebSite:
        """The real app (CTI, pop, recorder, routing) on a loopback port, wired to this PBX."""
        configured = self.settings.model_copy(update={"pbx": [self.pbx_settings(**pbx_overrides)]})
        services = build_services(configured)
        async with services.db.transaction() as session:
            staff = {**STAFF, "agent3": ["agent"], "agent4": ["agent"], "agent5": ["agent"], "agent6": ["agent"]}
            users = {login: await add_user(session, login, PASSWORD, login.capitalize(), roles,
                                           extension=STAFF_EXTENSIONS.get(login), softphone=login in SOFTPHONE_STAFF)
                     for login, roles in staff.items()}
        server = TestServer(build_app(configured, services), host="127.0.0.1", port=0)
        await server.start_server()
        self.services, self._server = services, server
        self.site = WebSite(server, services, users)
        if wait_link:
            link = self.line.link
            await until(lambda: link.up and link.resyncs >= 1, within=15, what="the product's AMI link up")
        return self.site

    @property
    def cti(self) -> CtiService:
        assert self._server is not None, "serve() first"
        return self._server.app[CTI]

    @property
    def line(self) -> Any:
        return self.cti.lines["live"]

    async def console(self, login: str, queues: tuple[str, ...] = ()) -> Console:
        """``login`` logged in with their console open; logged into ``queues`` through the product."""
        assert self.site is not None, "serve() first"
        client = await self.site.login(login)
        ws = await client.http.ws_connect("/ws")
        console = Console(login, client, ws)
        self.consoles.append(console)
        await ws.send_str("ping")  # answered over this socket once the hub delivers to it
        await console.next("pong", within=5)
        for queue in queues:
            await client.api("POST", f"/api/v1/cti/queues/{queue}/login", json={})
        return console

    def user_id(self, login: str) -> int:
        assert self.site is not None
        return self.site.users[login].id

    async def idle(self) -> None:
        """Until the tracker has applied what the PBX sent so far and the pop/recorder are done."""
        link = self.line.link
        await until(lambda: not link.queue.items, within=20, what="the tracker caught up")
        await self.cti.idle()

    def transcript(self, name: str) -> Path:
        """Where a scenario writes its AMI transcript: ``$FRONTDESK_PBX_RECORD/name.ami`` when that
        is set (to refresh tests/fixtures/ami from the live suite), else the test's own folder."""
        folder = Path(os.environ.get(RECORD_ENV) or self.phones.folder)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.ami"

    async def restart_pbx(self) -> None:
        """``core restart now``, off the event loop (the server under test keeps running meanwhile)."""
        await asyncio.to_thread(self.pbx.restart_now)

    async def crash_pbx(self) -> None:
        """kill -9 the PBX (no Hangup, no Shutdown); ``start_pbx`` brings it back."""
        await asyncio.to_thread(self.pbx.crash)

    async def start_pbx(self) -> None:
        await asyncio.to_thread(self.pbx.start)

    async def calls(self) -> list[CallRecord]:
        """The ``calls`` table, once the pipeline has caught up, oldest first."""
        await self.idle()
        assert self.services is not None
        async with self.services.db.session() as session:
            return list((await session.execute(select(CallRecord).order_by(CallRecord.id))).scalars())

    async def timeline(self, ticket_id: int | None = None) -> list[TimelineEntry]:
        """One ticket's timeline (every ticket's, without ``ticket_id``), oldest first."""
        assert self.services is not None
        async with self.services.db.session() as session:
            stmt = select(TimelineEntry).order_by(TimelineEntry.id)
            if ticket_id is not None:
                stmt = stmt.where(TimelineEntry.ticket_id == ticket_id)
            return list((await session.execute(stmt)).scalars())

    async def close_server(self) -> None:
        for console in self.consoles:
            await console.close()
        self.consoles.clear()
        if self.site is not None:
            for client in self.site.clients:
                await client.close()
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self.services is not None:
            await self.services.renderer.close()
            await self.services.db.close()
            self.services = None

    async def reset_pbx(self) -> None:
        """What the next test starts from: no sipp, no channels, no queue members, Asterisk up."""
        self.customers.stop_all()
        self.phones.stop_all()
        if not self.pbx.running:
            self.pbx.start()
        async with self.pbx.probe() as ami:
            for _ in range(3):
                for channel in await ami.channels():
                    await ami.action("Hangup", Channel=channel["Channel"])
                for queue in QUEUES:
                    for interface in (await ami.queue(queue)).members:
                        await ami.action("QueueRemove", Queue=queue, Interface=interface)
                with contextlib.suppress(AssertionError):
                    await ami.until_no_channels()  # hung-up channels take a moment to go
                    return
        raise AssertionError("the PBX still has channels after the test's clean-up")


@pytest.fixture(scope="session")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    home = pbx_dir()
    sipp_path()
    server = Pbx(home, tmp_path_factory.mktemp("asterisk"), PortPool())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sipp_scenarios(pbx: Pbx, tmp_path_factory: pytest.TempPathFactory) -> Scenarios:
    return Scenarios(pbx.home, tmp_path_factory.mktemp("sipp-scenarios"))


@pytest.fixture
async def lab(pbx: Pbx, sipp_scenarios: Scenarios, settings: Settings, tmp_path: Path) -> AsyncIterator[Lab]:
    sipp = sipp_path()
    folder = tmp_path / "sipp"
    folder.mkdir()
    the_lab = Lab(pbx, settings, Phones(pbx, sipp_scenarios, sipp, folder), Customers(pbx, sipp_scenarios, sipp, folder))
    try:
        yield the_lab
    finally:
        await the_lab.close_server()
        await the_lab.reset_pbx()


@pytest.fixture
async def live(lab: Lab) -> Lab:
    await lab.serve()
    return lab
