"""What a call was for one agent, as their recent calls say it (``cti.recent_calls.outcome_for``)."""

from __future__ import annotations

from datetime import UTC, datetime

from cti.recent_calls import _name_only, outcome_for
from cti.records import CallRecord

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def call(direction: str = "inbound", answered: bool = True, outcome: str | None = "answered", agent_id: int | None = 1) -> CallRecord:
    return CallRecord(pbx="p", linkedid="1", direction=direction, number="+14155550123", answered_at=NOW if answered else None,
                      outcome=outcome, agent_id=agent_id)


def test_each_outcome_in_the_agents_own_terms() -> None:
    assert outcome_for(1, call(), [1]) == "answered-by-me"
    assert outcome_for(2, call(), [1]) == "answered-by-colleague"
    assert outcome_for(1, call(agent_id=2), [1, 2]) == "transferred"  # I took it and handed it on
    assert outcome_for(2, call(agent_id=2), [1, 2]) == "answered-by-me"
    assert outcome_for(1, call(answered=False, outcome="abandoned", agent_id=None), []) == "abandoned"
    assert outcome_for(1, call(answered=False, outcome="timeout", agent_id=None), []) == "missed"
    assert outcome_for(1, call(answered=False, outcome=None, agent_id=None), []) == "missed"  # still queued
    assert outcome_for(1, call("outbound"), [1]) == "called"
    assert outcome_for(1, call("outbound", answered=False, outcome="no-answer"), []) == "not-reached"


def test_a_caller_id_that_is_only_the_number_is_no_name() -> None:
    assert _name_only("+14155550123", "+14155550123") == ""
    assert _name_only("14155550123", "+14155550123") == ""
    assert _name_only("Zhang Wei", "+8613800138000") == "Zhang Wei"
    assert _name_only("  ", "+1") == ""
