"""The reply composer's draft: kept per ticket and person, so a reload or a crash loses nothing.

The composer saves as the agent types (debounced in the browser); the page restores it; a
sent reply removes it in the same transaction as the reply (``channels.replies``). Saving
checks only lengths and that the person may see the ticket: a draft may hold a half-typed
address, which is checked when the reply is sent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.records import SavedReplyDraft
from core.auth import Actor
from core.clock import utcnow
from core.errors import InvalidInput
from core.records import Role
from routing.desk import TicketDesk

MAX_BODY_CHARS = 100_000  # as a reply's
_CAPS = {"to": 320, "cc": 4000, "bcc": 4000, "subject": 500, "body": MAX_BODY_CHARS}


@dataclasses.dataclass(frozen=True, slots=True)
class DraftFields:
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    template_id: int | None = None


def draft_dict(draft: SavedReplyDraft | None) -> dict[str, Any] | None:
    if draft is None:
        return None
    return {"to": draft.to, "cc": draft.cc, "bcc": draft.bcc, "subject": draft.subject, "body": draft.body,
            "template_id": draft.template_id, "updated_at": draft.updated_at.isoformat() if draft.updated_at else None}


class ReplyDrafts:
    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk

    async def _mine(self, session: AsyncSession, actor: Actor, ticket_id: int) -> SavedReplyDraft | None:
        actor.require(Role.AGENT)
        if actor.user_id is None:
            raise InvalidInput("drafts are kept for people, not for API tokens without a user")
        await self.desk.get(session, actor, ticket_id)  # may this person see the ticket at all
        stmt = select(SavedReplyDraft).where(SavedReplyDraft.ticket_id == ticket_id,
                                             SavedReplyDraft.user_id == actor.user_id)
        return (await session.scalars(stmt)).first()

    async def load(self, session: AsyncSession, actor: Actor, ticket_id: int) -> SavedReplyDraft | None:
        """This person's draft on this ticket, if any."""
        return await self._mine(session, actor, ticket_id)

    async def save(self, session: AsyncSession, actor: Actor, ticket_id: int, fields: DraftFields) -> SavedReplyDraft:
        """Keep what was typed (one row per ticket and person, replaced each time); the caller commits."""
        for name, cap in _CAPS.items():
            if len(getattr(fields, name)) > cap:
                raise InvalidInput("the draft is too long", {"field": name, "max_length": cap})
        draft = await self._mine(session, actor, ticket_id)
        if draft is None:
            draft = SavedReplyDraft(ticket_id=ticket_id, user_id=actor.user_id)
            session.add(draft)
        for name in ("to", "cc", "bcc", "subject", "body", "template_id"):
            setattr(draft, name, getattr(fields, name))
        draft.updated_at = utcnow()
        await session.flush()
        return draft

    async def discard(self, session: AsyncSession, actor: Actor, ticket_id: int) -> None:
        """Forget this person's draft on this ticket (sent, or thrown away); the caller commits."""
        await session.execute(delete(SavedReplyDraft).where(SavedReplyDraft.ticket_id == ticket_id,
                                                            SavedReplyDraft.user_id == actor.user_id))
