"""Wallboard figures computed from a known sequence of call events, and the same from the records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.backlog import alert_figures, email_backlog
from alerts.records import Escalation
from config.services import Services
from core.clock import ManualClock
from core.records import OutboxMessage, Ticket
from cti.events import AgentStateChanged, CallAnswered, CallEnded
from cti.queue_stats import CallBoard, QueueStats, ServiceLevelRule, WaitingCall
from cti.records import AgentStateLog, CallRecord

NINE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def at(seconds: float) -> datetime:
    return NINE + timedelta(seconds=seconds)


def answered(linkedid: str, queue: str | None, wait_s: float) -> CallAnswered:
    return CallAnswered("pbx", linkedid, "inbound", "+861380000000", queue, "PJSIP/1001", 1, wait_s)


def ended(linkedid: str, queue: str | None, outcome: str, wait_s: float, answered_at: datetime | None = None) -> CallEnded:
    return CallEnded("pbx", linkedid, "inbound", "+861380000000", queue, outcome, None, 12.0 if answered_at else 0.0,
                     wait_s, answered_at=answered_at.isoformat() if answered_at else None)


# (seconds after 09:00, event): five support calls, one sales call, one direct call, three agents.
SEQUENCE = [
    (0, AgentStateChanged("pbx", "PJSIP/1001", 1, "ready", "", ("support",))),
    (60, AgentStateChanged("pbx", "PJSIP/1002", 2, "on-call", "", ("sales", "support"))),
    (120, AgentStateChanged("pbx", "PJSIP/1003", 3, "paused", "lunch", ("sales",))),
    (130, answered("A", "support", 10.0)),
    (140, answered("B", "support", 30.0)),
    (150, ended("C", "support", "abandoned", 3.0)),  # a short abandon: out of the service level
    (160, ended("D", "support", "abandoned", 40.0)),
    (170, ended("E", "support", "timeout", 60.0)),
    (180, answered("F", "sales", 5.0)),
    (190, ended("A", "support", "answered", 10.0, at(130))),  # already counted when answered
    (200, answered("G", None, 2.0)),  # a direct call is not a queue call
]


async def feed(clock: ManualClock, stats: QueueStats) -> None:
    for seconds, event in SEQUENCE:
        clock.advance(at(seconds) - clock.now())
        await stats.on_event(event)


def check_board(board: CallBoard, with_live: bool = True) -> None:
    support, sales = {q.queue: q for q in board.queues}["support"], {q.queue: q for q in board.queues}["sales"]
    assert (support.offered, support.tally.answered, support.tally.abandoned, support.tally.timeouts) == (5, 2, 2, 1)
    assert support.tally.short_abandons == 1 and support.tally.answered_in_threshold == 1
    assert support.tally.service_level == pytest.approx(1 / 4)  # 1 within 20 s ÷ (5 offered − 1 short abandon)
    assert support.tally.asa_s == pytest.approx(20.0)  # (10 + 30) ÷ 2
    assert support.tally.abandon_rate == pytest.approx(2 / 5)
    assert (sales.offered, sales.tally.service_level, sales.tally.asa_s, sales.tally.abandon_rate) == (1, 1.0, 5.0, 0.0)
    overall = board.overall.tally
    assert (overall.offered, overall.answered, overall.abandoned, overall.timeouts) == (6, 3, 2, 1)
    assert overall.service_level == pytest.approx(2 / 5)
    assert overall.asa_s == pytest.approx(15.0)
    assert overall.abandon_rate == pytest.approx(2 / 6)
    # every call left its queue between 09:00 and 09:15: one interval holds them all
    assert len(board.intervals) == 37 and board.intervals[-1].start == NINE
    assert board.intervals[-1].tally.offered == 6 and board.intervals[-1].service_level_so_far == pytest.approx(2 / 5)
    if with_live:
        assert (support.waiting, support.longest_wait_s, sales.waiting) == (2, 45.0, 0)
        assert board.overall.waiting == 2 and board.overall.longest_wait_s == 45.0


async def test_queue_figures_from_a_known_event_sequence() -> None:
    clock = ManualClock(NINE)
    waiting = [WaitingCall("support", at(255)), WaitingCall("support", at(288))]
    stats = QueueStats(clock, UTC_ZONE, ServiceLevelRule(20, 5), waiting=lambda: waiting)
    await feed(clock, stats)
    clock.advance(at(300) - clock.now())
    board = stats.board()
    check_board(board)
    by_interface = {a.interface: a for a in board.agents}
    assert (board.agents[0].interface, board.agents[0].state) == ("PJSIP/1001", "ready")
    assert by_interface["PJSIP/1003"].reason == "lunch" and by_interface["PJSIP/1003"].since == at(120)
    assert (board.now - by_interface["PJSIP/1001"].since).total_seconds() == 300  # time in state
    support, sales = board.queues[1], board.queues[0]
    assert (support.queue, sales.queue) == ("support", "sales")
    assert (support.agents["ready"], support.agents["on-call"], support.agents["paused"]) == (1, 1, 0)
    assert (sales.agents["on-call"], sales.agents["paused"]) == (1, 1)
    assert board.overall.agents == {"ready": 1, "on-call": 1, "wrap-up": 0, "paused": 1, "logged-out": 0}
    assert board.overall.paused_reasons == {"lunch": 1} and support.paused_reasons == {}


async def test_a_new_day_starts_from_zero() -> None:
    clock = ManualClock(NINE)
    stats = QueueStats(clock, UTC_ZONE)
    await feed(clock, stats)
    clock.advance(timedelta(days=1))
    board = stats.board()
    assert board.overall.offered == 0 and board.intervals == [] and len(board.agents) == 3


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(300))


async def test_the_same_figures_come_back_from_the_records_after_a_restart(services: Services) -> None:
    rows = [("A", "support", "answered", 10.0, at(130)), ("B", "support", "answered", 30.0, at(140)),
            ("C", "support", "abandoned", 3.0, None), ("D", "support", "abandoned", 40.0, None),
            ("E", "support", "timeout", 60.0, None), ("F", "sales", "answered", 5.0, at(180)),
            ("G", None, "answered", 2.0, at(200)), ("Y", "support", "answered", 5.0, at(-86400))]
    async with services.db.transaction() as session:
        for linkedid, queue, outcome, wait_s, answered_at in rows:
            session.add(CallRecord(pbx="pbx", linkedid=linkedid, direction="inbound", number="+861380000000",
                                   queue=queue, started_at=at(100), answered_at=answered_at, ended_at=at(200),
                                   wait_s=wait_s, outcome=outcome))
        for seconds, event in SEQUENCE:
            if isinstance(event, AgentStateChanged):
                session.add(AgentStateLog(user_id=None, pbx="pbx", interface=event.interface, state="logged-out",
                                          started_at=at(seconds - 3600)))
                session.add(AgentStateLog(user_id=None, pbx="pbx", interface=event.interface, state=event.state,
                                          reason=event.reason, started_at=at(seconds)))
    stats = QueueStats(services.clock, UTC_ZONE)
    async with services.db.session() as session:
        await stats.load(session)
    board = stats.board()
    check_board(board, with_live=False)
    assert sorted((a.interface, a.state) for a in board.agents) == [
        ("PJSIP/1001", "ready"), ("PJSIP/1002", "on-call"), ("PJSIP/1003", "paused")]


def sla(deadline: datetime, level: int) -> dict[str, object]:
    return {"policy": "email", "paused_at": None, "cycles": {"first_response": 0},
            "targets": {"first_response": {"start": at(-7200).isoformat(), "paused_s": 0.0, "cycle": 0,
                                           "level": level, "acked": False, "deadline": deadline.isoformat()}}}


async def test_the_email_backlog_and_todays_alerts(services: Services) -> None:
    now = at(300)
    tickets = [  # (queue, status, created, answered, sla_state, channel)
        ("support", "new", at(-3600), None, sla(at(600), 0), "email"),  # open, unanswered, on time
        ("support", "open", at(-7200), None, sla(at(200), 2), "email"),  # breached, the oldest unanswered
        ("support", "open", at(-1800), None, sla(at(900), 1), "email"),  # at risk: the warning has fired
        ("sales", "open", at(-600), at(-300), {}, "email"),  # answered
        ("sales", "pending-customer", at(-9000), None, sla(at(0), 2), "email"),  # paused: no risk
        ("sales", "solved", at(-9999), None, sla(at(0), 2), "email"),  # not open
        ("support", "open", at(-9999), None, sla(at(0), 2), "voice"),  # not an email
    ]
    async with services.db.transaction() as session:
        rows = [Ticket(subject="s", queue=q, status=st, created_at=c, first_response_at=a, sla_state=state, channel=ch)
                for q, st, c, a, state, ch in tickets]
        session.add_all(rows)
        await session.flush()
        for cycle, (fired, deadline) in enumerate(((at(-86400), at(-86000)), (at(100), at(200)), (at(250), at(200)))):
            session.add(Escalation(ticket_id=rows[1].id, policy="email", target="first_response", cycle=cycle,
                                   level=0, due_at=fired, deadline=deadline, fired_at=fired))
        for status, created in (("failed", at(10)), ("failed", at(-86400)), ("sent", at(20))):
            session.add(OutboxMessage(channel="sms", recipient="+8613800138000", body="x", status=status,
                                      created_at=created))
    async with services.db.session() as session:
        overall, sales, support = await email_backlog(session, now)
        alerts = await alert_figures(session, NINE)
    assert (overall.open, overall.unanswered, overall.at_risk, overall.breached) == (5, 4, 1, 1)
    assert overall.oldest_unanswered_at == at(-9000)
    assert (support.queue, support.open, support.unanswered, support.at_risk, support.breached) == ("support", 3, 3, 1, 1)
    assert support.oldest_unanswered_at == at(-7200)
    assert (sales.open, sales.unanswered, sales.at_risk, sales.breached) == (2, 1, 0, 0)
    assert (alerts.fired, alerts.breaches, alerts.failed_deliveries) == (2, 1, 1)
