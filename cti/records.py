"""Tables owned by this package (on the shared ``core.records.Base``).

``calls`` is what reports and the wallboard count: service level, ASA and abandon rate
come from ``joined_at``/``answered_at``/``wait_s`` and ``outcome`` (``timeout`` when the
queue gave up, ``abandoned`` when the caller hung up: told apart by QUEUESTATUS).
``agent_states`` is the log of agent state changes, one row per change.
``call_segments`` are each agent's part of a call: after a transfer the call's ``talk_s``
is the total and each agent's talk time is their segment. ``ended_during_outage`` marks a
call the PBX lost in a crash: it was ended when the link was lost, not when it came back.
``call_offers`` says whose phone rang for a call: a pop the agent did not answer must stay
in their recent calls after the page (or the server) restarts, and ``calls.agent_id`` only
names who answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.records import Base


class CallRecord(Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx", "linkedid", name="uq_calls_pbx_linkedid"),
        Index("ix_calls_queue_joined", "queue", "joined_at"),
        Index("ix_calls_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pbx: Mapped[str] = mapped_column(String(80))
    linkedid: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    number: Mapped[str] = mapped_column(String(40), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    queue: Mapped[str | None] = mapped_column(String(80))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    interface: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    joined_at: Mapped[datetime | None]
    ringing_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_s: Mapped[float] = mapped_column(Float, default=0.0)
    talk_s: Mapped[float] = mapped_column(Float, default=0.0)
    # answered | abandoned | timeout | no-answer | failed; None while the call is live
    outcome: Mapped[str | None] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    ended_during_outage: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CallSegment(Base):
    __tablename__ = "call_segments"
    __table_args__ = (
        UniqueConstraint("call_id", "position", name="uq_call_segments_call_position"),
        Index("ix_call_segments_agent_started", "agent_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    position: Mapped[int]  # 0 = the agent who answered, then each agent it was transferred to
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    interface: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    talk_s: Mapped[float] = mapped_column(Float, default=0.0)


class CallOffer(Base):
    """One agent's phone rang for one call (once per agent, however often a queue re-rings them)."""

    __tablename__ = "call_offers"
    __table_args__ = (
        UniqueConstraint("call_id", "user_id", name="uq_call_offers_call_user"),
        Index("ix_call_offers_user_offered", "user_id", "offered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    interface: Mapped[str] = mapped_column(String(80))
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentStateLog(Base):
    __tablename__ = "agent_states"
    __table_args__ = (Index("ix_agent_states_user_started", "user_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pbx: Mapped[str] = mapped_column(String(80))
    interface: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))  # ready | on-call | wrap-up | paused | logged-out
    reason: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class PbxCommand(Base):
    """A call-control action asked for on an instance that does not own the PBX link.

    Any instance inserts it (``key`` is its idempotency key: asking twice inserts once);
    the link's owner claims it (``FOR UPDATE SKIP LOCKED``), marks it ``sending`` and commits
    before it writes to the PBX, then records the outcome. A command left ``sending`` by an
    owner that died is failed by the next owner, never re-sent: a duplicated Originate rings
    a customer twice, a reported failure lets the agent click again.
    """

    __tablename__ = "pbx_commands"
    __table_args__ = (
        UniqueConstraint("key", name="uq_pbx_commands_key"),
        Index("ix_pbx_commands_pbx_status", "pbx", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    pbx: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))  # dial
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sending | done | failed
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
