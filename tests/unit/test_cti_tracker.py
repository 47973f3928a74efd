"""The call tracker on the transcripts recorded from a real Asterisk 22."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.clock import ManualClock
from core.events import DomainEvent
from cti.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAgentLeft,
    CallAnswered,
    CallEnded,
    CallRinging,
)
from cti.link import Snapshot
from cti.scenarios import read_transcript, transcript_events
from cti.tracker import CallTracker, wants

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
AGENTS = {f"PJSIP/100{n}": n for n in range(1, 6)}  # user n sits at extension 100n


def replay(name: str) -> tuple[CallTracker, list[DomainEvent]]:
    clock = ManualClock()
    start = clock.now()
    tracker = CallTracker("pbx", AGENTS.get, clock)
    events: list[DomainEvent] = []
    for step in transcript_events(read_transcript(FIXTURES / name)):
        clock.advance(start + timedelta(seconds=step.at) - clock.now())
        if wants(step.frame):
            events += tracker.apply(step.frame)
    return tracker, events


def of(events: list[DomainEvent], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_queue_call_rings_all_five_agents_and_bob_answers() -> None:
    tracker, events = replay("inbound_queue_answered.ami")
    rang = of(events, CallRinging)
    assert sorted(r.user_ids for r in rang) == [(1,), (2,), (3,), (4,), (5,)]
    assert {r.number for r in rang} == {"+8613800138000"} and {r.queue for r in rang} == {"support"}
    assert sorted(e.user_ids for e in of(events, CallAgentLeft)) == [(1,), (3,), (4,), (5,)]
    [answered] = of(events, CallAnswered)
    assert answered.agent_user_id == 2 and 1.5 < answered.wait_s < 3
    [ended] = of(events, CallEnded)
    assert (ended.outcome, ended.agent_user_id, ended.talk_s) == ("answered", 2, 6.0)
    assert tracker.calls == {}


def test_caller_hanging_up_in_queue_is_an_abandon() -> None:
    _, events = replay("inbound_queue_abandoned.ami")
    [abandoned] = of(events, CallAbandoned)
    assert not abandoned.timeout and 5 < abandoned.wait_s < 8
    assert of(events, CallEnded)[0].outcome == "abandoned"
    assert len(of(events, CallAgentLeft)) == 5


def test_queue_timeout_is_told_apart_from_an_abandon_by_queuestatus() -> None:
    _, events = replay("no_answer.ami")
    [abandoned] = of(events, CallAbandoned)
    assert abandoned.timeout and 19 < abandoned.wait_s < 22
    assert of(events, CallEnded)[0].outcome == "timeout"
    assert len(of(events, CallRinging)) == 10  # two rounds of ringall, each withdrawn
    assert {e.reason for e in of(events, CallAgentLeft)} == {"no-answer"}


def test_direct_calls_answered_and_not_answered() -> None:
    _, answered = replay("direct_dial_answered.ami")
    assert [r.user_ids for r in of(answered, CallRinging)] == [(3,)]
    [ended] = of(answered, CallEnded)
    assert (ended.outcome, ended.agent_user_id, ended.queue) == ("answered", 3, None) and 3 < ended.talk_s < 6
    _, missed = replay("direct_dial_no_answer.ami")
    assert [e.outcome for e in of(missed, CallEnded)] == ["no-answer"]
    assert [e.reason for e in of(missed, CallAgentLeft)] == ["no-answer"]


def test_click_to_dial_then_blind_transfer_keeps_one_call_across_agents() -> None:
    _, events = replay("actions_click_to_dial_transfer.ami")
    c2d = [e for e in events if getattr(e, "linkedid", "") == "c2d-agent-0001"]
    assert [type(e).__name__ for e in c2d if not isinstance(e, AgentStateChanged)] == [
        "CallAnswered", "CallRinging", "CallAgentLeft", "CallAnswered", "CallEnded"]
    ended = of(c2d, CallEnded)[0]
    assert (ended.direction, ended.number, ended.agent_user_id, ended.outcome) == ("outbound", "8613800138000", 2, "answered")


def test_pause_fan_out_gives_one_state_change_per_real_change() -> None:
    _, events = replay("actions_queue_mgmt.ami")
    changes = [(e.user_id, e.state, e.reason) for e in of(events, AgentStateChanged)]
    # 1002 paused without a queue: three QueueMemberPause events, one change each way.
    assert changes == [
        (1, "paused", "Lunch"), (1, "ready", ""),
        (2, "paused", "Meeting"), (2, "ready", ""),
        (5, "ready", ""), (4, "paused", "Login-paused"), (4, "ready", ""),
        (5, "logged-out", ""), (4, "logged-out", ""),
    ]


def test_snapshot_ends_ghost_calls_and_pops_calls_ringing_now() -> None:
    tracker = CallTracker("pbx", AGENTS.get, ManualClock())
    tracker.apply({"Event": "Newchannel", "Channel": "PJSIP/customer-1", "Uniqueid": "1.1", "Linkedid": "1.1", "CallerIDNum": "+15551230000"})
    tracker.apply({"Event": "AgentCalled", "Channel": "PJSIP/customer-1", "Linkedid": "1.1", "Interface": "PJSIP/1001",
                   "DestChannel": "PJSIP/1001-1", "Queue": "support"})
    live = [
        {"Event": "CoreShowChannel", "Channel": "PJSIP/customer-2", "Uniqueid": "2.1", "Linkedid": "2.1", "CallerIDNum": "+15559870000", "ChannelState": "6"},
        {"Event": "CoreShowChannel", "Channel": "PJSIP/1002-7", "Uniqueid": "2.2", "Linkedid": "2.1", "ChannelState": "5"},
    ]
    tracker.apply(Snapshot("QueueStatus", [{"Event": "QueueEntry", "Queue": "support", "Channel": "PJSIP/customer-2"}]))
    events = tracker.apply(Snapshot("CoreShowChannels", live))
    assert [e.outcome for e in of(events, CallEnded)] == ["failed"]
    assert [e.user_ids for e in of(events, CallAgentLeft)] == [(1,)]
    [ringing] = of(events, CallRinging)
    assert (ringing.user_ids, ringing.number, ringing.queue) == ((2,), "+15559870000", "support")
    assert set(tracker.calls) == {"2.1"}
