"""Macros: a named set of ticket actions and, optionally, a reply template, applied in one click.

Shared macros (no owner) are defined by admins and offered to everyone; a person may keep
personal ones only they see. Applying one goes through ``routing.ticket_actions`` (the desk's
own operations: checked, audited, on the timeline); its template is not sent — the page puts
the rendered text in the reply composer for the agent to read and send. ``preview`` says what
applying would change and writes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import InvalidInput
from core.records import Role
from routing import ticket_actions
from routing.desk import TicketDesk
from routing.records import Macro
from routing.shared_or_own import may_change, visible, visible_to
from routing.ticket_actions import TicketActions, read_actions

MAX_MACROS_PER_OWNER = 200
# The reply templates' table, read by id only (knowledge owns it; routing does not import it).
_TEMPLATES = table("reply_templates", column("id"))


@dataclasses.dataclass(frozen=True, slots=True)
class MacroDraft:
    name: str
    actions: TicketActions
    template_id: int | None = None
    shared: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class MacroOutcome:
    """What applying a macro changes (or would), and the template the composer should get."""

    macro_id: int
    ticket_id: int
    changes: list[dict[str, Any]]
    template_id: int | None


def read_macro(data: Mapping[str, Any]) -> MacroDraft:
    """A macro from a form or JSON body: ``name``, ``template_id``, ``shared`` and the actions."""
    name = data.get("name")
    if not isinstance(name, str) or not " ".join(name.split()) or len(name) > 100:
        raise InvalidInput("a macro needs a name of at most 100 characters", {"field": "name"})
    template = data.get("template_id")
    template_id: int | None = None
    if template not in (None, ""):
        try:
            template_id = int(str(template))
        except ValueError:
            raise InvalidInput("template_id must be a number", {"field": "template_id"}) from None
    shared = data.get("shared") in (True, "1", "true", "on", "yes")
    actions = read_actions(data)
    if actions.is_empty() and template_id is None:
        raise InvalidInput("a macro needs a template or at least one action", {"field": "name"})
    return MacroDraft(" ".join(name.split()), actions, template_id, shared)


def macro_dict(macro: Macro) -> dict[str, Any]:
    return {"id": macro.id, "name": macro.name, "shared": macro.owner_id is None, "owner_id": macro.owner_id,
            **_actions_of(macro).as_dict(), "template_id": (macro.actions or {}).get("template_id")}


def _actions_of(macro: Macro) -> TicketActions:
    return read_actions(macro.actions or {})




async def list_macros(session: AsyncSession, actor: Actor) -> list[Macro]:
    """The shared macros and the person's own, by name."""
    stmt = select(Macro).where(visible_to(actor, Macro.owner_id))
    return list(await session.scalars(stmt.order_by(Macro.name, Macro.id)))




async def _check(session: AsyncSession, draft: MacroDraft) -> dict[str, Any]:
    if draft.template_id is not None:
        found = await session.scalar(select(_TEMPLATES.c.id).where(_TEMPLATES.c.id == draft.template_id))
        if found is None:
            raise InvalidInput("no such reply template", {"field": "template_id", "template_id": draft.template_id})
    return {**draft.actions.as_dict(), "template_id": draft.template_id}


async def create_macro(session: AsyncSession, actor: Actor, draft: MacroDraft, now: Any) -> Macro:
    """A shared macro needs an admin; anyone on the desk may keep personal ones."""
    if draft.shared:
        actor.require(Role.ADMIN, Role.OPS)
    else:
        actor.require(Role.AGENT, Role.OPS)
    owner = None if draft.shared else actor.user_id
    count = len([m for m in await list_macros(session, actor) if m.owner_id == owner])
    if count >= MAX_MACROS_PER_OWNER:
        raise InvalidInput("at most 200 macros", {"field": "name"})
    macro = Macro(name=draft.name, owner_id=owner, actions=await _check(session, draft), created_at=now, updated_at=now)
    session.add(macro)
    await session.flush()
    record_change(session, actor, "macro.create", "macro", macro.id, None, macro_dict(macro))
    return macro


async def change_macro(session: AsyncSession, actor: Actor, macro_id: int, draft: MacroDraft, now: Any) -> Macro:
    """Rename it or change what it does; whether it is shared stays as it was made."""
    macro = await visible(session, actor, Macro, macro_id, "no such macro")
    may_change(actor, macro, "this is someone else's macro")
    before = macro_dict(macro)
    macro.name, macro.actions, macro.updated_at = draft.name, await _check(session, draft), now
    record_change(session, actor, "macro.change", "macro", macro.id, before, macro_dict(macro))
    return macro


async def delete_macro(session: AsyncSession, actor: Actor, macro_id: int) -> None:
    macro = await visible(session, actor, Macro, macro_id, "no such macro")
    may_change(actor, macro, "this is someone else's macro")
    record_change(session, actor, "macro.delete", "macro", macro.id, macro_dict(macro), None)
    await session.delete(macro)


async def preview(desk: TicketDesk, session: AsyncSession, actor: Actor, macro_id: int, ticket_id: int) -> MacroOutcome:
    """What applying the macro to the ticket would change; nothing is written."""
    macro = await visible(session, actor, Macro, macro_id, "no such macro")
    changes = await ticket_actions.plan(desk, session, actor, ticket_id, _actions_of(macro))
    return MacroOutcome(macro.id, ticket_id, changes, (macro.actions or {}).get("template_id"))


async def apply(desk: TicketDesk, session: AsyncSession, actor: Actor, macro_id: int, ticket_id: int) -> MacroOutcome:
    """Apply the macro's actions in the caller's transaction (each one audited, on the timeline)."""
    macro = await visible(session, actor, Macro, macro_id, "no such macro")
    changes = await ticket_actions.apply(desk, session, actor, ticket_id, _actions_of(macro))
    return MacroOutcome(macro.id, ticket_id, changes, (macro.actions or {}).get("template_id"))


__all__ = ["MacroDraft", "MacroOutcome", "apply", "change_macro", "create_macro", "delete_macro", "list_macros",
           "macro_dict", "preview", "read_macro"]
