"""The call tracker on the transcripts recorded from a real Asterisk 22."""

from __future__ import annotations

from datetime import timedelta

from transcript_replay import AGENTS, Replay, of, replay

from core.clock import ManualClock
from core.events import DomainEvent
from cti.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAgentLeft,
    CallAnswered,
    CallEnded,
    CallProgress,
    CallRinging,
)
from cti.link import LinkLost, Snapshot
from cti.tracker import CallTracker


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
    assert [type(e).__name__ for e in c2d if not isinstance(e, AgentStateChanged | CallProgress)] == [
        "CallAnswered", "CallRinging", "CallAgentLeft", "CallAnswered", "CallEnded"]
    assert steps(c2d, 1) == ["dial-calling-customer", "dial-connected"]
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


def replay_with_responses(name: str) -> tuple[CallTracker, list[DomainEvent]]:
    """Like ``replay``, with the OriginateResponse an asynchronous Originate gets later."""
    run = Replay()
    run.tracker.expect_outbound("fd-c2d-0000000001", "+8613800138000", 1)
    for frame in run.frames(name, keep=frozenset({"OriginateResponse"})):
        run.apply(frame)
    return run.tracker, run.events


def steps(events: list[DomainEvent], user: int) -> list[str]:
    return [e.step for e in of(events, CallProgress) if e.user_ids == (user,)]


def states(events: list[DomainEvent], user: int) -> list[str]:
    return [e.state for e in of(events, AgentStateChanged) if e.user_id == user]


def test_attended_transfer_hands_the_call_over_only_on_attended_transfer() -> None:
    run = Replay()
    tracker, seen = run.tracker, run.events
    linkedid = "1796473158.0"
    requested = False
    for frame in run.frames("attended_transfer_completed.ami"):
        if frame.get("Event") == "Hold" and not requested:  # the console's Atxfer went out just before
            tracker.request_transfer(linkedid, "1002", 1)
            requested = True
        if frame.get("Event") == "AttendedTransfer":
            # Bob has answered the consultation: Alice still owns the call and is on it.
            call = tracker.calls[linkedid]
            assert (call.agent, call.agent_user_id) == ("PJSIP/1001", 1)
            assert call.agent_channel is not None and call.agent_channel.startswith("PJSIP/1001-")
            assert tracker.agents.lines["PJSIP/1001"].state == "on-call"
            assert not [e for e in of(seen, CallAgentLeft) if e.user_ids == (1,)]
            assert steps(seen, 1) == ["consulting", "consult-answered"]
        run.apply(frame)
    assert steps(seen, 1) == ["consulting", "consult-answered", "transfer-done"]
    assert [e.reason for e in of(seen, CallAgentLeft) if e.user_ids == (1,)] == ["transferred"]
    assert [e.agent_user_id for e in of(seen, CallAnswered)] == [1, 2]
    [ended] = of(seen, CallEnded)
    assert ended.agent_user_id == 2 and ended.outcome == "answered"
    # Each agent's segment: Alice from answer to the transfer (the PBX's TalkTime), Bob to the end.
    alice, bob = ended.segments
    assert (alice["agent_user_id"], bob["agent_user_id"]) == (1, 2)
    assert 8 < alice["talk_s"] < 10 and 2.5 < bob["talk_s"] < 3.5
    assert abs(ended.talk_s - (alice["talk_s"] + bob["talk_s"])) < 0.01
    assert states(seen, 1)[-1] != "on-call"


def test_cancelled_or_unanswered_consultation_leaves_the_call_with_the_first_agent() -> None:
    for name, linkedid, expected in (("attended_transfer_cancelled.ami", "1796473177.5", "transfer-cancelled"),
                                     ("attended_transfer_no_answer.ami", "1796473237.15", "transfer-declined")):
        run = Replay()
        tracker, seen = run.tracker, run.events
        for frame in run.frames(name):
            if frame.get("Event") == "Hold":
                tracker.request_transfer(linkedid, "1002", 1)
            run.apply(frame)
            if expected == "transfer-cancelled" and frame.get("Event") == "DialBegin":
                tracker.cancelling_transfer(linkedid)  # the agent pressed "cancel" while Bob's phone rang
        assert steps(seen, 1) == ["consulting", expected], name
        assert [e.user_ids for e in of(seen, CallRinging)][-1] == (2,)  # Bob's phone rang with the caller shown
        assert [e.user_ids for e in of(seen, CallAgentLeft)][-1] == (2,)  # ... and stopped: nothing went to Bob
        [ended] = of(seen, CallEnded)
        assert ended.agent_user_id == 1 and [s["agent_user_id"] for s in ended.segments] == [1]


def test_atxfer_the_pbx_silently_drops_is_reported_failed_after_the_timeout() -> None:
    run = Replay()
    tracker, seen = run.tracker, run.events
    linkedid = "1796473191.10"
    token = None
    for frame in run.frames("attended_transfer_failed_no_t_option.ami"):
        run.apply(frame)
        if frame.get("Event") == "AgentConnect":
            token = tracker.request_transfer(linkedid, "1002", 1)
            assert tracker.transfer_overdue(linkedid, token + 1) == []  # another request's timer
            overdue = of(tracker.transfer_overdue(linkedid, token), CallProgress)
            assert [(e.step, e.user_ids, e.detail) for e in overdue] == [("transfer-failed", (1,), {"target": "1002"})]
            assert tracker.calls[linkedid].consult is None
    assert token is not None and of(seen, CallEnded)[0].agent_user_id == 1


def test_click_to_dial_the_agent_does_not_answer_records_nothing_against_the_customer() -> None:
    tracker, events = replay_with_responses("click_to_dial_agent_no_answer.ami")
    assert steps(events, 1) == ["dial-agent-no-answer"]
    assert "on-call" not in states(events, 1)  # only their own phone rang
    [ended] = of(events, CallEnded)
    assert not ended.customer_dialled
    assert tracker.calls == {}


def test_click_to_dial_to_a_busy_customer_is_reported_busy() -> None:
    _, events = replay_with_responses("click_to_dial_customer_busy.ami")
    assert steps(events, 1) == ["dial-calling-customer", "dial-customer-busy"]
    [ended] = of(events, CallEnded)
    assert ended.customer_dialled and ended.outcome == "busy" and ended.number == "+8613800138000"


def test_originate_to_a_phone_that_cannot_be_reached_is_reported() -> None:
    tracker = CallTracker("pbx", AGENTS.get, ManualClock())
    tracker.expect_outbound("fd-1", "+15551230000", 1)
    events = tracker.apply({"Event": "OriginateResponse", "Response": "Failure", "Reason": "0", "Uniqueid": "<unknown>",
                             "ActionID": "fd-1", "Channel": "PJSIP/1001"})  # as Asterisk: no channel, no Uniqueid
    assert [(e.step, e.user_ids) for e in of(events, CallProgress)] == [("dial-agent-unreachable", (1,))]
    assert tracker.outbound == {}


def test_pbx_crash_ends_live_calls_when_the_link_was_lost_and_phone_states_are_unknown_meanwhile() -> None:
    clock = ManualClock()
    start = clock.now()
    tracker = CallTracker("pbx", AGENTS.get, clock)
    tracker.apply(Snapshot("QueueStatus", [{"Event": "QueueMember", "Queue": "support", "Location": "PJSIP/1001", "Paused": "0"}]))
    tracker.apply({"Event": "Newchannel", "Channel": "PJSIP/customer-1", "Uniqueid": "1.1", "Linkedid": "1.1", "CallerIDNum": "+15551230000"})
    tracker.apply({"Event": "AgentConnect", "Channel": "PJSIP/customer-1", "Linkedid": "1.1", "Interface": "PJSIP/1001",
                   "DestChannel": "PJSIP/1001-1", "Queue": "support"})
    clock.advance(timedelta(seconds=5))
    lost = tracker.apply(LinkLost(clock.now()))  # kill -9: no Hangup, the socket just closes
    assert [(e.user_id, e.state) for e in of(lost, AgentStateChanged)] == [(1, "unknown")]
    clock.advance(timedelta(seconds=15))  # the PBX restarts
    events = tracker.apply(Snapshot("QueueStatus", []))
    events += tracker.apply(Snapshot("CoreShowChannels", []))
    [ended] = of(events, CallEnded)
    assert ended.ended_during_outage and ended.talk_s == 5.0
    assert ended.ended_at == (start + timedelta(seconds=5)).isoformat()
    assert states(events, 1)[-1] == "logged-out"  # the restarted PBX dropped the dynamic member
    # A later resync without an outage ends nothing "during an outage".
    tracker.apply({"Event": "Newchannel", "Channel": "PJSIP/customer-2", "Uniqueid": "2.1", "Linkedid": "2.1"})
    [later] = of(tracker.apply(Snapshot("CoreShowChannels", [])), CallEnded)
    assert not later.ended_during_outage


def test_a_resync_during_a_consultation_does_not_hand_the_call_over() -> None:
    run = Replay()
    tracker = run.tracker
    linkedid = "1796473158.0"
    for frame in run.frames("attended_transfer_completed.ami"):
        if frame.get("Event") == "Hold":
            tracker.request_transfer(linkedid, "1002", 1)
        if frame.get("Event") == "BridgeMerge":
            break  # Bob has answered the consultation; Alice has not hung up yet
        run.apply(frame)
    call = tracker.calls[linkedid]
    live = [{"Event": "CoreShowChannel", "Channel": name, "Linkedid": linkedid, "ChannelState": "6", "BridgeId": "b"}
            for name in sorted(call.channels)]
    events = tracker.apply(Snapshot("CoreShowChannels", live))
    assert not of(events, CallAnswered) and not of(events, CallAgentLeft)
    assert tracker.calls[linkedid].agent_user_id == 1 and tracker.calls[linkedid].consult is not None


def test_consulting_a_queue_keeps_the_call_until_attended_transfer_and_bobs_segment_is_his() -> None:
    """Atxfer to 8000 (queue support): the Local/ leg joins the queue, Bob is AgentCalled/AgentConnect'ed."""
    run = Replay()
    tracker, seen = run.tracker, run.events
    linkedid = "1796476727.0"
    for frame in run.frames("attended_transfer_to_queue.ami"):
        if frame.get("Event") == "Hold":
            tracker.request_transfer(linkedid, "8000", 1)
        if frame.get("Event") == "AttendedTransfer":
            call = tracker.calls[linkedid]
            assert call.agent_user_id == 1 and call.customer_channel == "PJSIP/customer-00000000"
            assert steps(seen, 1) == ["consulting", "consult-answered"]
        run.apply(frame)
    assert steps(seen, 1) == ["consulting", "consult-answered", "transfer-done"]
    assert [e.agent_user_id for e in of(seen, CallAnswered)] == [1, 2]
    [ended] = of(seen, CallEnded)
    assert ended.agent_user_id == 2 and [s["agent_user_id"] for s in ended.segments] == [1, 2]
    assert ended.queue == "support"
    # Bob's part starts at the handover (his queue TalkTime also counts the consultation with Alice).
    alice, bob = ended.segments
    assert 2.5 < bob["talk_s"] < 3.5 and 7 < alice["talk_s"] < 10
