"""The AMI simulator does what the live Asterisk did in the live-PBX suite (its transcripts in
tests/fixtures/ami/live_*.ami): a restart, and a blind transfer (Redirect) of a queue call."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cti_fixtures import until

from cti.parser import Frame, FrameReader
from cti.scenarios import QueueCall, read_transcript, transcript_events
from cti.simulator import AmiSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
RESTART_EVENTS = ("Hangup", "QueueCallerAbandon", "Shutdown")
TRANSFER_EVENTS = ("BridgeLeave", "Hangup", "Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "BlindTransfer")


def shape(frame: Frame) -> tuple[str, str, str]:
    """What matters of an event here: its name, whose channel (agent or customer), the cause."""
    channel = frame.get("Channel", "")
    role = "customer" if "customer" in channel else "agent" if channel else ""
    return frame.get("Event", ""), role, frame.get("Cause", "")


def live(name: str) -> list[Frame]:
    return [step.frame for step in transcript_events(read_transcript(FIXTURES / name))]


class Listener:
    """A client of the simulator that logs in and keeps every event, until the link drops."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.closed = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, port: int) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(b"Action: Login\r\nUsername: cti\r\nSecret: s3cret\r\nActionID: 1\r\n\r\n")
        frames = FrameReader()
        while data := await reader.read(65536):
            self.frames += [f for f in frames.feed(data).frames if "Event" in f]
        self.closed.set()

    def send(self, action: str, **headers: str) -> None:
        assert self.writer is not None
        lines = [f"Action: {action}", *(f"{k}: {v}" for k, v in headers.items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())


@pytest.fixture
async def sim() -> AsyncIterator[tuple[AmiSimulator, Listener]]:
    simulator = AmiSimulator("cti", "s3cret", queues={"support": ["PJSIP/1001", "PJSIP/1002"]}, answer_delay_s=0.05)
    await simulator.start()
    listener = Listener()
    task = asyncio.create_task(listener.run(simulator.port))
    await until(lambda: len(simulator.clients) == 1 and simulator.clients[0].logged_in)
    yield simulator, listener
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if listener.writer is not None:
        listener.writer.close()
        with contextlib.suppress(ConnectionError):
            await listener.writer.wait_closed()
    await simulator.close()


async def test_a_restart_abandons_the_waiting_caller_hangs_everything_up_then_says_shutdown(sim: tuple[AmiSimulator, Listener]) -> None:
    simulator, listener = sim
    talking = QueueCall("+8613800138030", ring=["PJSIP/1001", "PJSIP/1002"], answered_by="PJSIP/1001", ring_s=0.05, talk_s=60)
    await simulator.play([s for s in talking.steps() if s.at < 1], speed=0)
    waiting = QueueCall("+8613800138032", ring=["PJSIP/1002"], answered_by=None, abandon_s=60)
    await simulator.play([s for s in waiting.steps() if s.at < 1], speed=0)
    await until(lambda: len(simulator.pbx.channels) == 4)
    await simulator.restart()
    await asyncio.wait_for(listener.closed.wait(), 5)  # the link drops after Shutdown

    def after_last_ring(frames: list[Frame]) -> list[tuple[str, str, str]]:
        start = max(i for i, f in enumerate(frames) if f.get("Event") == "DialBegin")
        return [shape(f) for f in frames[start:] if f.get("Event") in RESTART_EVENTS]

    recorded = after_last_ring(live("live_pbx_restart.ami"))
    simulated = after_last_ring(listener.frames)
    assert collections.Counter(simulated) == collections.Counter(recorded)
    assert simulated[-1] == recorded[-1] == ("Shutdown", "", "")
    assert simulator.pbx.channels == {} and not simulator.pbx.members[("support", "PJSIP/1001")].dynamic


async def test_a_crash_drops_the_link_without_a_word(sim: tuple[AmiSimulator, Listener]) -> None:
    simulator, listener = sim
    call = QueueCall("+8613800138030", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.05, talk_s=60)
    await simulator.play([s for s in call.steps() if s.at < 1], speed=0)
    await until(lambda: sum(f.get("Event") == "BridgeEnter" for f in listener.frames) == 2)
    mark = len(listener.frames)
    simulator.crash()
    await asyncio.wait_for(listener.closed.wait(), 5)
    assert listener.frames[mark:] == [] and simulator.pbx.channels == {}


async def test_a_redirect_moves_the_customer_in_the_live_pbx_order(sim: tuple[AmiSimulator, Listener]) -> None:
    simulator, listener = sim
    call = QueueCall("+447700900124", ring=["PJSIP/1001"], answered_by="PJSIP/1001", ring_s=0.05, talk_s=60)
    await simulator.play([s for s in call.steps() if s.at < 1], speed=0)
    await until(lambda: sum(f.get("Event") == "BridgeEnter" for f in listener.frames) == 2)  # bridged, and all read
    customer = next(name for name in simulator.pbx.channels if "customer" in name)
    mark = len(listener.frames)
    listener.send("Redirect", Channel=customer, Exten="1002", Context="agents", Priority="1")
    await until(lambda: sum(f.get("Event") == "BridgeEnter" for f in listener.frames[mark:]) == 2)

    def transfer(frames: list[Frame]) -> list[tuple[str, str, str]]:
        start = next(i for i, f in enumerate(frames) if f.get("Event") == "BridgeLeave")
        return [shape(f) for f in frames[start:] if f.get("Event") in TRANSFER_EVENTS][:8]

    recorded = transfer(live("live_blind_transfer.ami"))
    assert transfer(listener.frames[mark:]) == recorded
    assert recorded[:3] == [("BridgeLeave", "customer", ""), ("BridgeLeave", "agent", ""), ("Hangup", "agent", "16")]


async def _answer(port: int, action: str, last: str) -> list[Frame]:
    """Every frame of one action's answer (its response, and its list up to ``last``), on a link of its own."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"Action: Login\r\nUsername: cti\r\nSecret: s3cret\r\nActionID: 1\r\n\r\n"
                 + f"Action: {action}\r\nActionID: 2\r\n\r\n".encode())
    frames, answer = FrameReader(), []
    try:
        while data := await asyncio.wait_for(reader.read(65536), 5):
            answer += [f for f in frames.feed(data).frames if f.get("ActionID") == "2"]
            if answer and (answer[0].get("Response") == "Error" or answer[-1].get("Event") == last):
                return answer
    finally:
        writer.close()
    raise AssertionError(f"the link closed before {action} was answered: {answer}")


async def test_registered_phones_are_listed_and_announced_as_res_pjsip_does(sim: tuple[AmiSimulator, Listener]) -> None:
    simulator, listener = sim
    [refused] = await _answer(simulator.port, "PJSIPShowContacts", "ContactListComplete")
    assert refused["Response"] == "Error" and refused["Message"] == "No Contacts found"  # Asterisk's words with none

    simulator.pbx.register("1006", "sip:x1@127.0.0.1:5070;transport=ws")
    await until(lambda: any(f.get("Event") == "ContactStatus" for f in listener.frames))
    [created] = [f for f in listener.frames if f.get("Event") == "ContactStatus"]
    assert (created["AOR"], created["ContactStatus"], created["URI"]) == ("1006", "Created", "sip:x1@127.0.0.1:5070;transport=ws")

    response, contact, complete = await _answer(simulator.port, "PJSIPShowContacts", "ContactListComplete")
    assert response["Response"] == "Success" and response["EventList"] == "start"
    assert (contact["Event"], contact["Aor"], contact["Status"]) == ("ContactList", "1006", "Reachable")
    assert contact["ObjectName"].startswith("1006;@") and contact["Uri"] == "sip:x1@127.0.0.1:5070;transport=ws"
    assert complete["ListItems"] == "1"

    simulator.pbx.unregister("1006", "sip:x1@127.0.0.1:5070;transport=ws")
    [refused] = await _answer(simulator.port, "PJSIPShowContacts", "ContactListComplete")
    assert refused["Message"] == "No Contacts found"
