"""Saved views: a named queue filter and sort, one person's own or shared with every agent.

The query is stored as the queue's own query string (already validated by the queue's filter
parser before it is saved), so a saved view opens exactly the list it was saved from. Shared
views are an admin's to make, rename and delete; anyone may keep personal ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import InvalidInput
from core.records import Role
from routing.records import SavedView
from routing.shared_or_own import may_change, visible, visible_to

MAX_VIEWS_PER_OWNER = 100


def view_dict(view: SavedView) -> dict[str, object]:
    return {"id": view.id, "name": view.name, "shared": view.owner_id is None, "owner_id": view.owner_id,
            "query": dict(view.query or {})}


def _name(text: str) -> str:
    name = " ".join((text or "").split())
    if not name or len(name) > 100:
        raise InvalidInput("a view needs a name of at most 100 characters", {"field": "name"})
    return name




async def list_views(session: AsyncSession, actor: Actor) -> list[SavedView]:
    """Shared views first, then the person's own, each by name."""
    stmt = select(SavedView).where(visible_to(actor, SavedView.owner_id))
    return list(await session.scalars(stmt.order_by(SavedView.owner_id.is_not(None), SavedView.name, SavedView.id)))




async def save_view(session: AsyncSession, actor: Actor, name: str, query: Mapping[str, str], shared: bool,
                    now: datetime) -> SavedView:
    actor.require(Role.AGENT, Role.OPS)
    if shared:
        actor.require(Role.ADMIN, Role.OPS)
    owner = None if shared else actor.user_id
    mine = [v for v in await list_views(session, actor) if v.owner_id == owner]
    if len(mine) >= MAX_VIEWS_PER_OWNER:
        raise InvalidInput("at most 100 views", {"field": "name"})
    clean = {str(k): str(v) for k, v in query.items() if k != "page" and v}
    view = SavedView(name=_name(name), owner_id=owner, query=clean, created_at=now)
    session.add(view)
    await session.flush()
    record_change(session, actor, "view.save", "saved_view", view.id, None, view_dict(view))
    return view


async def rename_view(session: AsyncSession, actor: Actor, view_id: int, name: str) -> SavedView:
    view = await visible(session, actor, SavedView, view_id, "no such view")
    may_change(actor, view, "this is someone else's view")
    before = view.name
    view.name = _name(name)
    record_change(session, actor, "view.rename", "saved_view", view.id, {"name": before}, {"name": view.name})
    return view


async def delete_view(session: AsyncSession, actor: Actor, view_id: int) -> None:
    view = await visible(session, actor, SavedView, view_id, "no such view")
    may_change(actor, view, "this is someone else's view")
    record_change(session, actor, "view.delete", "saved_view", view.id, view_dict(view), None)
    await session.delete(view)


__all__ = ["delete_view", "list_views", "rename_view", "save_view", "view_dict"]
