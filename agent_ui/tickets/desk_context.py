"""What the queue and ticket pages show of the desk's tools: custom fields and their values,
macros, saved views. Read here so the pages' own handlers only add one line each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.records import Role, TicketStatus
from routing.custom_fields import field_values, list_fields
from routing.macros import list_macros
from routing.saved_views import list_views


async def ticket_desk_context(session: AsyncSession, actor: Actor, ticket_id: int) -> dict[str, Any]:
    return {
        "custom_fields": await list_fields(session),
        "field_values": await field_values(session, ticket_id),
        "field_errors": {},
        "macros": await list_macros(session, actor),
    }


async def queue_desk_context(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    return {
        "custom_fields": await list_fields(session),
        "saved_views": await list_views(session, actor),
        "may_share": actor.has(Role.ADMIN) or actor.has(Role.OPS),
        "ticket_statuses": [s.value for s in TicketStatus],
        "bulk_outcomes": None,
    }
