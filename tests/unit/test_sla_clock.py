"""The SLA clock's arithmetic on a ticket: deadlines, ladder steps, pause and resume, ack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.calendar import AlwaysOpen, BusinessCalendar, WorkingTime
from alerts.policies import Level, Policy, compile_book, default_policies, is_callback
from alerts.settings import CalendarDefinition, LevelDefinition, PolicyDefinition, SlaSettings
from alerts.sla_clock import SlaState
from core.records import Ticket

OFFICE = BusinessCalendar("office", "Asia/Shanghai", {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")})
LADDER = [
    LevelDefinition(at="80%", channels=["email"], recipients=["assignee"], working_hours=True),
    LevelDefinition(at="+0", channels=["sms"], recipients=["assignee"]),
    LevelDefinition(at="+1h", channels=["sms", "email"], recipients=["supervisors"]),
]


def policy_with(cal: WorkingTime, target_seconds: float, levels: list[LevelDefinition] | None = None) -> Policy:
    definition = PolicyDefinition(name="p", first_response_minutes=target_seconds / 60, levels=levels or LADDER)
    from alerts.settings import level_offset

    compiled = tuple(Level(i, *level_offset(ld.at), ld) for i, ld in enumerate(definition.levels))
    return Policy(definition, cal, cal, compiled)


def ticket(**kw: object) -> Ticket:
    values: dict[str, object] = {"channel": "email", "queue": "email", "subject": "hello", "priority": 1,
                                 "category": "other", "sla_state": {}}
    values.update(kw)
    return Ticket(**values)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_ladder_of_a_12_business_hour_target() -> None:
    t = ticket()
    state = SlaState(t)
    monday_10 = utc(2026, 1, 5, 2)  # 10:00 in Shanghai
    state.start("first_response", monday_10)
    policy = policy_with(OFFICE, 12 * 3600)
    state.recompute(policy)
    # Deadline: 8 h Monday + 4 h Tuesday → Tuesday 13:00 local (05:00 UTC).
    assert state.targets["first_response"]["deadline"] == utc(2026, 1, 6, 5).isoformat()
    # 80 % of 12 h: 9.6 h in → Tuesday 10:36 local.
    assert t.due_at == utc(2026, 1, 6, 2, 36)
    assert (t.sla_target, t.sla_level, t.sla_policy) == ("first_response", 0, "p")
    state.targets["first_response"]["level"] = 1
    state.recompute(policy)
    assert t.due_at == utc(2026, 1, 6, 5)  # the breach
    state.targets["first_response"]["level"] = 2
    state.recompute(policy)
    assert t.due_at == utc(2026, 1, 6, 6)  # an hour after it, wall time
    state.targets["first_response"]["level"] = 3
    state.recompute(policy)
    assert t.due_at is None  # the ladder is done; the deadline stays for the page


def test_a_working_hours_level_waits_for_the_office_to_open() -> None:
    t = ticket()
    state = SlaState(t)
    friday_17 = utc(2026, 1, 9, 9)  # 17:00 local
    state.start("first_response", friday_17)
    state.recompute(policy_with(OFFICE, 2 * 3600, [LevelDefinition(at="10%", channels=["email"], recipients=["assignee"], working_hours=True)]))
    # 10 % of 2 h is 12 minutes into Friday's last hour: inside working hours, unchanged.
    assert t.due_at == utc(2026, 1, 9, 9, 12)
    night = policy_with(AlwaysOpen(), 2 * 3600, [LevelDefinition(at="+0", channels=["email"], recipients=["assignee"], working_hours=True)])
    night = Policy(night.definition, AlwaysOpen(), OFFICE, night.levels)
    state = SlaState(t)
    state.recompute(night)
    # The breach is at 19:00 local; the non-urgent level holds until Monday 09:00.
    assert t.due_at == utc(2026, 1, 12, 1)


def test_acknowledging_stops_the_ladder_but_a_new_customer_message_starts_a_new_cycle() -> None:
    t = ticket()
    state = SlaState(t)
    policy = policy_with(AlwaysOpen(), 3600)
    state.start("first_response", utc(2026, 1, 5, 0))
    state.recompute(policy)
    assert state.acknowledge() == [("first_response", 0)]
    state.recompute(policy)
    assert t.due_at is None
    state.start("first_response", utc(2026, 1, 6, 0))
    state.recompute(policy)
    assert state.targets["first_response"]["cycle"] == 1 and t.due_at is not None


def test_the_default_policies_pick_callback_email_and_the_rest() -> None:
    book = compile_book(default_policies(SlaSettings()), [CalendarDefinition(name="office")], "Asia/Shanghai")
    assert book.select(ticket(channel="voice", subject="Callback +8613800000000"), None).name == "callback"  # type: ignore[union-attr]
    assert book.select(ticket(channel="voice", subject="Call from +86"), None).name == "default"  # type: ignore[union-attr]
    email = book.select(ticket(), "vip")
    assert email is not None and email.name == "email" and email.target_seconds("first_response") == 12 * 3600
    assert is_callback("voice", "  callback: missed call")
    assert not is_callback("email", "Callback please")


NY = BusinessCalendar("ny", "America/New_York", {d: ["08:30-12:00", "13:00-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")})
CALENDARS = [OFFICE, NY, AlwaysOpen()]
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))
durations = st.floats(min_value=1, max_value=200 * 3600, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(
    cal=st.sampled_from(CALENDARS),
    start=instants,
    target=durations,
    pause_after=st.floats(min_value=0, max_value=100 * 3600),
    pause_for=st.floats(min_value=0, max_value=300 * 3600),
)
def test_pausing_and_resuming_never_shortens_the_remaining_time(
    cal: WorkingTime, start: datetime, target: float, pause_after: float, pause_for: float
) -> None:
    policy = policy_with(cal, target)
    t = ticket()
    state = SlaState(t)
    state.start("first_response", start)
    state.recompute(policy)
    paused_at = start + timedelta(seconds=pause_after)
    left_at_pause = cal.between(paused_at, t.due_at or paused_at)
    state = SlaState(t)
    state.pause(paused_at)
    state.recompute(policy)
    assert t.due_at is None  # no alert while the customer has the ball
    resumed_at = paused_at + timedelta(seconds=pause_for)
    state = SlaState(t)
    state.resume(resumed_at, policy)
    state.recompute(policy)
    assert t.due_at is not None
    assert cal.between(resumed_at, t.due_at) >= left_at_pause - 0.001
