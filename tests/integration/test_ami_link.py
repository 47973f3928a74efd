"""The real AMI client over TCP against the simulator: login, lists, drops, stalls."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest
from cti_fixtures import until

from core.health import HealthRegistry
from core.supervisor import Backoff, SupervisedTask
from cti.errors import PbxLinkDown, PbxRefused
from cti.link import AmiLink, QueueItem
from cti.settings import PbxSettings
from cti.simulator import AmiSimulator


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    async with AmiSimulator("cti", "s3cret") as simulator:
        yield simulator


def pbx_settings(sim: AmiSimulator, **extra: object) -> PbxSettings:
    return PbxSettings(name="sim", host="127.0.0.1", port=sim.port, username="cti", secret="s3cret",  # type: ignore[arg-type]
                       md5_auth=True, ping_interval=0.5, ping_timeout=1.0, action_timeout=2.0, **extra)


async def run_link(link: AmiLink) -> tuple[SupervisedTask, asyncio.Task[None]]:
    task = SupervisedTask("pbx:sim", link.run, HealthRegistry(), Backoff(0.05, 0.2))
    task.start()
    consumer = asyncio.create_task(link.consume())
    await until(lambda: link.up)
    return task, consumer


async def stop(task: SupervisedTask, consumer: asyncio.Task[None]) -> None:
    await task.stop()
    consumer.cancel()


async def test_md5_login_lists_and_pbx_refusals(sim: AmiSimulator) -> None:
    received: list[QueueItem] = []

    async def sink(batch: list[QueueItem]) -> None:
        received.extend(batch)

    link = AmiLink(pbx_settings(sim), sink)
    task, consumer = await run_link(link)
    try:
        assert sim.actions["Challenge"] == 1 and sim.actions["Login"] == 1
        status = await link.action("QueueStatus", {"Queue": "support"}, collect_list=True)
        assert sorted(f["Location"] for f in status.events if f["Event"] == "QueueMember") == [f"PJSIP/100{n}" for n in range(1, 6)]
        with pytest.raises(PbxRefused, match="Member not dynamic"):
            await link.action("QueueRemove", {"Queue": "support", "Interface": "PJSIP/1001"})
        added = await link.action("QueueAdd", {"Queue": "sales", "Interface": "PJSIP/1005"})
        assert added.message == "Added interface to queue"
        await until(lambda: any(isinstance(f, dict) and f.get("Event") == "QueueMemberAdded" for f in received))
    finally:
        await stop(task, consumer)


async def test_wrong_secret_is_reported_and_retried_with_backoff(sim: AmiSimulator) -> None:
    async def sink(batch: list[QueueItem]) -> None:
        pass

    settings = PbxSettings(name="sim", host="127.0.0.1", port=sim.port, username="cti", secret="wrong", action_timeout=1.0)  # type: ignore[arg-type]
    health = HealthRegistry()
    task = SupervisedTask("pbx:sim", AmiLink(settings, sink).run, health, Backoff(0.05, 0.1))
    task.start()
    try:
        await until(lambda: sim.actions["Login"] >= 2)
        component = health.get("pbx:sim")
        assert component is not None and not component.ok and "refused" in component.detail
        assert "wrong" not in component.detail
    finally:
        await task.stop()


async def test_pending_originate_is_failed_at_a_drop_and_never_sent_twice(sim: AmiSimulator) -> None:
    async def sink(batch: list[QueueItem]) -> None:
        pass

    link = AmiLink(pbx_settings(sim), sink)
    task, consumer = await run_link(link)
    try:
        sim.hold_replies("Originate")
        pending = asyncio.create_task(link.action("Originate", {"Channel": "PJSIP/1001", "Exten": "100", "Context": "agents",
                                                                "Priority": "1", "Async": "true"}, final_event="OriginateResponse"))
        await until(lambda: sim.actions["Originate"] == 1)
        sim.drop_links()
        with pytest.raises(PbxLinkDown, match="not re-sent"):
            await pending
        await until(lambda: link.connects == 2 and link.up)
        await link.action("Ping")
        assert sim.actions["Originate"] == 1
    finally:
        await stop(task, consumer)


async def test_a_consumer_stalled_for_5s_neither_stalls_the_reader_nor_loses_a_frame(sim: AmiSimulator) -> None:
    received: list[QueueItem] = []
    stalled = asyncio.Event()

    async def sink(batch: list[QueueItem]) -> None:
        if not stalled.is_set():
            stalled.set()
            await asyncio.sleep(5)  # the stall under test
        received.extend(batch)

    link = AmiLink(pbx_settings(sim), sink)
    task, consumer = await run_link(link)
    try:
        await until(stalled.is_set)
        before = len(received)
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < 4.0:
            for _ in range(100):
                sim.emit({"Event": "QueueMemberStatus", "Queue": "support", "Interface": "PJSIP/1001", "Seq": str(sent)})
                sent += 1
            await sim.drain()
            pong = await link.action("Ping", deadline=0.5)  # answered while the consumer sleeps
            assert pong.response["Ping"] == "Pong"
            await asyncio.sleep(0.01)
        await until(lambda: sum(1 for f in received if isinstance(f, dict) and "Seq" in f) == sent, within=20)
        seqs = [int(f["Seq"]) for f in received[before:] if isinstance(f, dict) and "Seq" in f]
        assert seqs == list(range(sent))
        assert link.queue.overflow == 0
        assert link.connects == 1
    finally:
        await stop(task, consumer)


async def test_a_link_whose_pings_go_unanswered_is_dropped_and_reconnected(sim: AmiSimulator, caplog: pytest.LogCaptureFixture) -> None:
    async def sink(batch: list[QueueItem]) -> None:
        pass

    link = AmiLink(pbx_settings(sim), sink)
    task, consumer = await run_link(link)
    try:
        sim.hold_replies("Ping")  # the TCP link stays open, the PBX just stops answering
        await until(lambda: link.connects >= 2, within=15)
        assert "link considered dead" in caplog.text
        assert "s3cret" not in caplog.text  # the AMI secret never reaches the logs
    finally:
        await stop(task, consumer)


async def test_the_demo_pbx_rings_the_demo_agents_with_the_callers_numbers() -> None:
    from cti.demo_pbx import start_demo_simulator
    from cti.link import AmiSession, FrameQueue

    demo = await start_demo_simulator("127.0.0.1", 0, "demo", "demo-secret", interval_s=0.1,
                                      callers=["+8613800138000"], agent_interfaces=["PJSIP/1001", "PJSIP/1002"])
    try:
        queue = FrameQueue(1000)
        session = AmiSession("demo", queue)
        await session.open("127.0.0.1", demo.simulator.port, 2.0)
        await session.login("demo", "demo-secret", True, "on", 2.0)
        def called() -> list[dict[str, str]]:
            return [f for f in queue.items if isinstance(f, dict) and f.get("Event") == "AgentCalled"][:2]

        await until(lambda: len(called()) == 2)
        assert {f["CallerIDNum"] for f in called()} == {"+8613800138000"}
        assert {f["Interface"] for f in called()} == {"PJSIP/1001", "PJSIP/1002"}  # ringall
        answered = await session.action("Originate", {"Channel": "PJSIP/1001", "Context": "agents", "Exten": "+14155550123",
                                                      "Priority": "1", "Async": "true"}, final_event="OriginateResponse", deadline=5)
        assert answered.final is not None and answered.final["Response"] == "Success"
        session.close()
    finally:
        await demo.close()


async def test_generated_load_spreads_calls_over_the_agents(sim: AmiSimulator) -> None:
    started = await sim.play_calls(40, ["PJSIP/1001", "PJSIP/1002"], 0.3, talk_s=0.05)
    await until(lambda: not sim.pbx.channels)
    assert 10 <= started <= 14


def test_frontdesk_ami_sim_runs_from_the_command_line() -> None:
    out = subprocess.run([sys.executable, "-m", "config.cli", "ami-sim", "--port", "0", "--duration", "0.5", "--calls-per-s", "5"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "AMI simulator listening on 127.0.0.1:" in out.stdout
