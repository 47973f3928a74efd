"""The PBX's latest word on each agent, from the recorded agent-state changes.

A server process that starts after the PBX said an agent went on a call heard nothing of
it; routing's presence book asks this when it reads the agents' states (composition root:
``config.app``), so that process offers no email to an agent still on the phone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import as_utc
from cti.records import AgentStateLog


async def latest_agent_states(session: AsyncSession, since: datetime | None = None) -> dict[int, tuple[str, str, datetime]]:
    """user id -> (state, reason, when) of each agent's newest recorded change (``since``: only newer ones)."""
    newest = select(AgentStateLog.user_id, func.max(AgentStateLog.id).label("id")).where(
        AgentStateLog.user_id.is_not(None))
    if since is not None:
        newest = newest.where(AgentStateLog.started_at >= since)
    last = newest.group_by(AgentStateLog.user_id).subquery()
    rows = await session.execute(select(AgentStateLog.user_id, AgentStateLog.state, AgentStateLog.reason,
                                        AgentStateLog.started_at).join(last, last.c.id == AgentStateLog.id))
    return {int(user): (state, reason or "", as_utc(at)) for user, state, reason, at in rows if user is not None}
