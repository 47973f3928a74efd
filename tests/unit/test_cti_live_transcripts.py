"""The call tracker on transcripts the live-PBX suite recorded (tests/pbx/, Asterisk 22 with
this project's configuration): a PBX restart mid-call and a blind transfer of a queue call."""

from __future__ import annotations

from transcript_replay import of, replay

from cti.events import CallAgentLeft, CallAnswered, CallEnded, CallRinging


def test_a_restart_ends_the_talking_call_as_answered_and_the_waiting_one_as_abandoned() -> None:
    tracker, events = replay("live_pbx_restart.ami")
    ended = {e.number: e for e in of(events, CallEnded)}
    talking, waiting = ended["+8613800138030"], ended["+8613800138032"]
    assert (talking.outcome, talking.agent_user_id) == ("answered", 1)
    assert (waiting.outcome, waiting.agent_user_id) == ("abandoned", None)
    assert talking.talk_s < 3  # ended by the restart's own Hangups, not later
    # Bob rang for both calls; each ring was withdrawn, and nothing is left in progress.
    assert sorted((e.linkedid, e.user_ids) for e in of(events, CallRinging) if e.user_ids == (2,)) == sorted(
        (e.linkedid, e.user_ids) for e in of(events, CallAgentLeft) if e.user_ids == (2,))
    assert tracker.calls == {}


def test_a_blind_transfer_of_a_queue_call_moves_it_from_alice_to_bob_as_one_call() -> None:
    tracker, events = replay("live_blind_transfer.ami")
    assert [(e.agent_user_id, e.queue) for e in of(events, CallAnswered)] == [(1, "support"), (2, "support")]
    assert [(e.user_ids, e.reason) for e in of(events, CallAgentLeft) if e.reason == "transferred"] == [((1,), "transferred")]
    [ended] = of(events, CallEnded)
    assert (ended.outcome, ended.agent_user_id, ended.number) == ("answered", 2, "+447700900124")
    assert tracker.calls == {}
