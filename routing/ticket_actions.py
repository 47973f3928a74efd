"""A set of changes to make to a ticket at once — status, queue, assignee, tags — for macros
and bulk edits.

``plan`` says what they would change on one ticket without writing anything (a macro's
preview); ``apply`` makes the changes through the same desk operations single edits use
(``TicketDesk.assign``, ``set_status``, ``update_fields``; ``routing.tagging``), so each is
checked the same way, audited and on the timeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.errors import InvalidInput
from core.records import TicketStatus, User
from routing.desk import TicketDesk
from routing.tagging import add_tag, remove_tag
from routing.tags import MAX_TAGS_PER_TICKET, tags_of, tidy_tag

ME = "me"  # the assignee "whoever applies it"
NOBODY = "none"


@dataclasses.dataclass(frozen=True, slots=True)
class TicketActions:
    """What to change; an empty value leaves that part of the ticket as it is."""

    status: str = ""
    queue: str = ""
    assignee: str = ""  # "" no change, "me", "none" (unassign), or a user id
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.status or self.queue or self.assignee or self.add_tags or self.remove_tags)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "queue": self.queue, "assignee": self.assignee,
                "add_tags": list(self.add_tags), "remove_tags": list(self.remove_tags)}


def _tag_list(value: Any, name: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(t, str) for t in items):
        raise InvalidInput(f"{name} must be a list of tags", {"field": name})
    tags = tuple(dict.fromkeys(tidy_tag(t) for t in items if t.strip()))
    if len(tags) > MAX_TAGS_PER_TICKET:
        raise InvalidInput(f"{name} may name at most 50 tags", {"field": name})
    return tags


def read_actions(data: Mapping[str, Any]) -> TicketActions:
    """Actions from a form or a JSON body, each refused by name when malformed."""
    def text(name: str) -> str:
        value = data.get(name)
        if value is None:
            return ""
        if isinstance(value, int) and not isinstance(value, bool) and name == "assignee":
            return str(value)
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be text", {"field": name})
        return value.strip()

    status = text("status")
    if status and status not in {s.value for s in TicketStatus}:
        raise InvalidInput("unknown status", {"field": "status", "status": status})
    queue = text("queue")[:80]
    assignee = text("assignee")
    if assignee and assignee not in (ME, NOBODY) and not assignee.isdigit():
        raise InvalidInput("assignee must be me, none or a user id", {"field": "assignee"})
    add = _tag_list(data.get("add_tags"), "add_tags")
    remove = _tag_list(data.get("remove_tags"), "remove_tags")
    if set(add) & set(remove):
        raise InvalidInput("a tag cannot be both added and removed", {"field": "remove_tags"})
    return TicketActions(status, queue, assignee, add, remove)


def _assignee_id(actions: TicketActions, actor: Actor) -> int | None:
    if actions.assignee == ME:
        return actor.user_id
    if actions.assignee == NOBODY:
        return None
    return int(actions.assignee)


async def _person(session: AsyncSession, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    return user.display_name if user else f"#{user_id}"


async def plan(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket_id: int,
               actions: TicketActions) -> list[dict[str, Any]]:
    """What ``apply`` would change on the ticket, as ``{"field", "from", "to"}``; writes nothing."""
    ticket = await desk.get(session, actor, ticket_id)
    changes: list[dict[str, Any]] = []
    if actions.status and actions.status != ticket.status:
        changes.append({"field": "status", "from": ticket.status, "to": actions.status})
    if actions.queue and actions.queue != ticket.queue:
        changes.append({"field": "queue", "from": ticket.queue, "to": actions.queue})
    if actions.assignee:
        wanted = _assignee_id(actions, actor)
        if wanted != ticket.assignee_id:
            if wanted is not None:
                user = await session.get(User, wanted)
                if user is None or not user.active:
                    raise InvalidInput("no such active user", {"field": "assignee", "user_id": wanted})
            changes.append({"field": "assignee", "from": await _person(session, ticket.assignee_id),
                            "to": await _person(session, wanted), "to_id": wanted})
    if actions.add_tags or actions.remove_tags:
        have = set(await tags_of(session, ticket.id))
        added = [t for t in actions.add_tags if t not in have]
        removed = [t for t in actions.remove_tags if t in have]
        if added:
            changes.append({"field": "tags", "from": None, "to": added, "op": "add"})
        if removed:
            changes.append({"field": "tags", "from": removed, "to": None, "op": "remove"})
    return changes


async def apply(desk: TicketDesk, session: AsyncSession, actor: Actor, ticket_id: int,
                actions: TicketActions) -> list[dict[str, Any]]:
    """Make the changes (in the caller's transaction) through the desk; what changed."""
    changes = await plan(desk, session, actor, ticket_id, actions)
    for change in changes:
        if change["field"] == "queue":
            await desk.move_to_queue(session, actor, ticket_id, change["to"])  # on the timeline, audited
        elif change["field"] == "assignee":
            await desk.assign(session, actor, ticket_id, change["to_id"])
        elif change["field"] == "status":
            await desk.set_status(session, actor, ticket_id, change["to"])
        elif change.get("op") == "add":
            for tag in change["to"]:
                await add_tag(desk, session, actor, ticket_id, tag)
        else:
            for tag in change["from"]:
                await remove_tag(desk, session, actor, ticket_id, tag)
    return changes


__all__ = ["ME", "NOBODY", "TicketActions", "apply", "plan", "read_actions"]
