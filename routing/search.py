"""Ticket and customer search for agents: the top bar's box and ``GET /api/v1/search``.

Every query term must match (the last one may be half typed). Tickets come back one per
ticket, whatever matched in them (the subject, a mail, a note, a call), tickets whose
subject matched first, then the most recently active; each with a snippet of the newest
matching text, the matched words marked. Paging is by an opaque cursor. A search looks at
the newest ``MAX_CANDIDATES`` matching texts, so a word found everywhere costs no more than a
rare one; more words or a filter narrow it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defaultload

from core.auth import Actor
from core.errors import InvalidInput
from core.records import Customer, Role, SearchDocument, Ticket
from core.search_index import match_source
from core.search_terms import Query, Segment, parse_query, snippet
from routing.ticket_listing import TicketFilter, ticket_conditions, ticket_dict

MAX_OFFSET = 5_000
MAX_LIMIT = 50
# Matching documents looked at per search, newest first (Zendesk's search stops at 1,000 results).
MAX_CANDIDATES = 1_000


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    kind: str  # ticket or customer
    id: int
    title: list[Segment]
    snippet: list[Segment]
    record: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class SearchPage:
    query: str
    hits: list[Hit]
    next_cursor: str | None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = int(data["o"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidInput("the page cursor is not valid", {"field": "cursor"}) from None
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("the page cursor is not valid", {"field": "cursor"})
    return offset


def segments_dict(segments: list[Segment]) -> list[dict[str, Any]]:
    return [{"text": s.text, "mark": s.mark} for s in segments]


def hit_dict(hit: Hit) -> dict[str, Any]:
    return {"kind": hit.kind, "id": hit.id, "title": segments_dict(hit.title),
            "snippet": segments_dict(hit.snippet), "record": hit.record}


@dataclasses.dataclass(frozen=True, slots=True)
class _Asked:
    """A search request read once: the query, the page and where its matches come from."""

    query: Query
    offset: int
    limit: int
    source: tuple[Any, Any, Any]

    @classmethod
    def of(cls, session: AsyncSession, text: str, cursor: str | None, limit: int) -> _Asked | None:
        query = parse_query(text)
        if query.empty:
            return None
        sqlite = session.get_bind().dialect.name == "sqlite"
        return cls(query, decode_cursor(cursor), max(1, min(limit, MAX_LIMIT)), match_source(query, sqlite))


class SearchService:
    """Runs searches over the index ``core.search_index`` keeps, on whichever database the
    session is bound to."""

    async def tickets(
        self, session: AsyncSession, actor: Actor, text: str, flt: TicketFilter,
        cursor: str | None = None, limit: int = 20,
    ) -> SearchPage:
        actor.require(Role.AGENT, Role.OPS)
        asked = _Asked.of(session, text, cursor, limit)
        if asked is None:
            return SearchPage(text, [], None)
        query, offset, limit, (source, matches, newest) = asked.query, asked.offset, asked.limit, asked.source
        # The newest matching documents (filters applied), grouped per ticket here: the database
        # streams them newest first and stops at the cap, so a common word costs no more than a
        # rare one. Tickets whose subject matched come first, then the most recently active.
        stmt = (
            select(SearchDocument.id, SearchDocument.ticket_id, SearchDocument.kind)
            .select_from(source)
            .where(matches, SearchDocument.kind.in_(("ticket", "entry")))
            .order_by(newest.desc())
            .limit(MAX_CANDIDATES)
        )
        if conditions := ticket_conditions(flt):
            # Join the tickets only to narrow by them: the lookups cost more than the match.
            stmt = stmt.join(Ticket, Ticket.id == SearchDocument.ticket_id).where(*conditions)
        best: dict[int, list[int]] = {}  # ticket id -> [subject matched, newest doc id]
        for doc_id, ticket_id, kind in (await session.execute(stmt)).all():
            if ticket_id is None:
                continue
            entry = best.setdefault(ticket_id, [0, doc_id])
            entry[0] |= kind == "ticket"
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1]))
        rows = [(ticket_id, newest) for ticket_id, (_, newest) in ranked[offset:offset + limit + 1]]
        more = len(rows) > limit
        rows = rows[:limit]
        # The customer's name and tier are shown, not their phones and addresses: no second query.
        customer = defaultload(Ticket.customer)
        tickets = {t.id: t for t in (await session.scalars(
            select(Ticket).where(Ticket.id.in_([r[0] for r in rows]))
            .options(customer.lazyload(Customer.phones), customer.lazyload(Customer.emails)))).unique()}
        docs = {d.id: d for d in await session.scalars(
            select(SearchDocument).where(SearchDocument.id.in_([r[1] for r in rows])))}
        hits = []
        for ticket_id, doc_id in rows:
            ticket, doc = tickets.get(ticket_id), docs.get(doc_id)
            if ticket is None or doc is None:
                continue
            hits.append(Hit("ticket", ticket.id, _marked(ticket.subject, query), snippet(doc.text, query),
                            ticket_dict(ticket)))
        return SearchPage(text, hits, encode_cursor(offset + limit) if more else None)

    async def customers(
        self, session: AsyncSession, actor: Actor, text: str, cursor: str | None = None, limit: int = 20,
    ) -> SearchPage:
        actor.require(Role.AGENT, Role.OPS)
        asked = _Asked.of(session, text, cursor, limit)
        if asked is None:
            return SearchPage(text, [], None)
        query, offset, limit, (source, matches, newest) = asked.query, asked.offset, asked.limit, asked.source
        stmt = (
            select(SearchDocument)
            .select_from(source)
            .where(matches, SearchDocument.kind == "customer")
            .order_by(newest.desc())
            .offset(offset).limit(limit + 1)
        )
        docs = list(await session.scalars(stmt))
        more = len(docs) > limit
        docs = docs[:limit]
        customers = {c.id: c for c in await session.scalars(
            select(Customer).where(Customer.id.in_([d.ref_id for d in docs])))}
        hits = []
        for doc in docs:
            customer = customers.get(doc.ref_id)
            if customer is None or customer.merged_into_id is not None:  # merged: the survivor is the hit
                continue
            record = {"id": customer.id, "name": customer.name, "tier": customer.tier,
                      "emails": [e.address for e in customer.emails], "phones": [p.e164 for p in customer.phones]}
            hits.append(Hit("customer", customer.id, _marked(doc.title, query), snippet(doc.text, query), record))
        return SearchPage(text, hits, encode_cursor(offset + limit) if more else None)


def _marked(title: str, query: Query) -> list[Segment]:
    return snippet(title, query, width=300) or [Segment(title, False)]
