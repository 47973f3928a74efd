"""Things a person keeps for themselves or an admin shares with everyone (macros, saved views).

One rule for all of them: a person sees the shared ones and their own; only admins and ops
change a shared one; nobody changes someone else's. Someone else's is "not found", not
"forbidden", when it is only looked up: its existence is not theirs to learn.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.auth import Actor
from core.errors import Forbidden, NotFound
from core.records import Role


class Owned(Protocol):
    id: Any
    owner_id: Any  # None: shared


OwnedT = TypeVar("OwnedT", bound=Owned)


def visible_to(actor: Actor, owner: InstrumentedAttribute[int | None]) -> ColumnElement[bool]:
    """The rows ``actor`` sees: shared (no owner) or their own."""
    return or_(owner.is_(None), owner == actor.user_id)


async def visible(session: AsyncSession, actor: Actor, model: type[OwnedT], item_id: int, missing: str) -> OwnedT:
    """The item if ``actor`` may see it, else NotFound with ``missing`` (e.g. "no such macro")."""
    item = await session.get(model, item_id)
    if item is None or item.owner_id not in (None, actor.user_id):
        raise NotFound(missing, {"id": item_id})
    return item


def may_change(actor: Actor, item: Owned, not_yours: str) -> None:
    """Admins and ops change shared items; a person changes their own; ``not_yours`` otherwise."""
    if item.owner_id is None:
        actor.require(Role.ADMIN, Role.OPS)
    elif item.owner_id != actor.user_id:
        raise Forbidden(not_yours, {"id": item.id})
