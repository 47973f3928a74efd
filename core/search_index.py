"""Keeps ``search_documents`` in step with tickets, timeline entries and customers.

It listens to its database's flushes, so the index changes in the same transaction as the
write it describes: a search never finds a ticket that was rolled back, and never misses
one that was committed. Terms are made in Python (``core.search_terms``), so SQLite's FTS5
table and PostgreSQL's GIN index see the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    column,
    delete,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    table,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.db import Database
from core.records import (
    TICKET_NUMBER_OFFSET,
    Customer,
    CustomerEmail,
    CustomerPhone,
    EntryKind,
    SearchDocument,
    Ticket,
    TicketFieldValue,
    TimelineEntry,
)
from core.search_terms import Query, phone_terms, terms

SNIPPET_CHARS = 2000
# The parts of a timeline entry people search for: what was written, by whom, from which number.
ENTRY_TEXT_KEYS = ("subject", "text", "from_name", "from", "to", "caller_name", "caller", "number")
INDEXED_KINDS = frozenset({EntryKind.EMAIL_IN, EntryKind.EMAIL_OUT, EntryKind.NOTE, EntryKind.CALL})


_SURROGATE = re.compile("[\ud800-\udfff]")


def _stored(text: str, cap: int) -> str:
    """Text for a column: an older release may have stored a lone surrogate in a JSON payload
    (JSON can carry one, a text column cannot), so it becomes U+FFFD here."""
    return _SURROGATE.sub("\ufffd", text[:cap])


def _changed(obj: object, *names: str) -> bool:
    state: Any = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def ticket_document(ticket: Ticket, field_values: Iterable[str] = ()) -> dict[str, Any]:
    """The ticket's subject, number and custom field values (so "ACME-42" in a field finds it)."""
    subject = ticket.subject or ""
    values = [v for v in field_values if v]
    text = "\n".join([subject, *values])
    return {
        "kind": "ticket", "ref_id": ticket.id, "ticket_id": ticket.id, "customer_id": ticket.customer_id,
        "title": _stored(subject, 300), "text": _stored(text, SNIPPET_CHARS),
        "terms": " ".join([*terms(subject), str(ticket.number), *(t for v in values for t in terms(v))]),
        "at": ticket.created_at or utcnow(),
    }


def _field_values(conn: Connection, ticket_ids: set[int]) -> dict[int, list[str]]:
    """The custom field values of these tickets, each ticket's in field order."""
    found: dict[int, list[str]] = {}
    if not ticket_ids:
        return found
    stmt = (select(TicketFieldValue.ticket_id, TicketFieldValue.value)
            .where(TicketFieldValue.ticket_id.in_(ticket_ids)).order_by(TicketFieldValue.field_id))
    for ticket_id, value in conn.execute(stmt):
        found.setdefault(ticket_id, []).append(value)
    return found


def _ticket_documents(conn: Connection, ticket_ids: set[int]) -> list[dict[str, Any]]:
    """Documents for tickets read afresh (their field values changed, not the ticket row)."""
    if not ticket_ids:
        return []
    values = _field_values(conn, ticket_ids)
    rows = conn.execute(select(Ticket.id, Ticket.subject, Ticket.customer_id, Ticket.created_at)
                        .where(Ticket.id.in_(ticket_ids))).all()
    return [ticket_document(_record(**r._mapping, number=r.id + TICKET_NUMBER_OFFSET), values.get(r.id, []))
            for r in rows]


def entry_text(payload: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ENTRY_TEXT_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return "\n".join(parts)


def entry_document(entry: TimelineEntry) -> dict[str, Any] | None:
    if entry.kind not in INDEXED_KINDS:
        return None
    payload = entry.payload or {}
    text = entry_text(payload)
    found = terms(text)
    for key in ("caller", "number"):
        value = payload.get(key)
        if isinstance(value, str) and value.startswith("+"):
            found.extend(phone_terms(value))
    return {
        "kind": "entry", "ref_id": entry.id, "ticket_id": entry.ticket_id, "customer_id": None,
        "title": "", "text": _stored(text, SNIPPET_CHARS), "terms": " ".join(found), "at": entry.created_at or utcnow(),
    }


def customer_document(
    customer_id: int, name: str, emails: Iterable[str], phones: Iterable[str], at: datetime | None
) -> dict[str, Any]:
    emails, phones = list(emails), list(phones)
    found = terms(name) + [t for address in emails for t in terms(address)]
    found += [t for phone in phones for t in phone_terms(phone)]
    text = " · ".join([name, *emails, *phones])
    return {
        "kind": "customer", "ref_id": customer_id, "ticket_id": None, "customer_id": customer_id,
        "title": _stored(name or (emails[0] if emails else phones[0] if phones else ""), 300),
        "text": _stored(text, SNIPPET_CHARS), "terms": " ".join(found), "at": at or utcnow(),
    }


def _customer_documents(conn: Connection, ids: set[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    customers = conn.execute(
        select(Customer.id, Customer.name, Customer.created_at).where(Customer.id.in_(ids))
    ).all()
    emails: dict[int, list[str]] = {}
    for cid, address in conn.execute(
        select(CustomerEmail.customer_id, CustomerEmail.address).where(CustomerEmail.customer_id.in_(ids))
    ):
        emails.setdefault(cid, []).append(address)
    phones: dict[int, list[str]] = {}
    for cid, e164 in conn.execute(
        select(CustomerPhone.customer_id, CustomerPhone.e164).where(CustomerPhone.customer_id.in_(ids))
    ):
        phones.setdefault(cid, []).append(e164)
    return [customer_document(cid, name, emails.get(cid, []), phones.get(cid, []), at)
            for cid, name, at in customers]


def _write(conn: Connection, kind: str, ref_ids: set[int], rows: list[dict[str, Any]]) -> None:
    if ref_ids:
        conn.execute(delete(SearchDocument).where(SearchDocument.kind == kind, SearchDocument.ref_id.in_(ref_ids)))
    if rows:
        conn.execute(insert(SearchDocument), rows)


def index_flush(session: Session, _context: object) -> None:
    """After each flush: re-index what it created or changed, drop what it deleted."""
    tickets: dict[int, dict[str, Any]] = {}
    entries: dict[int, dict[str, Any] | None] = {}
    customer_ids: set[int] = set()
    valued: set[int] = set()  # tickets whose custom field values changed
    gone: dict[str, set[int]] = {"ticket": set(), "entry": set(), "customer": set()}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, TicketFieldValue):
            valued.add(obj.ticket_id)
    for obj in session.new:
        if isinstance(obj, Ticket):
            tickets[obj.id] = ticket_document(obj)
        elif isinstance(obj, TimelineEntry):
            entries[obj.id] = entry_document(obj)
        elif isinstance(obj, Customer):
            customer_ids.add(obj.id)
        elif isinstance(obj, CustomerPhone | CustomerEmail):
            customer_ids.add(obj.customer_id)
    for obj in session.dirty:
        if isinstance(obj, Ticket) and _changed(obj, "subject", "customer_id"):
            tickets[obj.id] = ticket_document(obj)
        elif isinstance(obj, TimelineEntry) and _changed(obj, "payload", "ticket_id"):
            entries[obj.id] = entry_document(obj)
        elif isinstance(obj, Customer) and _changed(obj, "name"):
            customer_ids.add(obj.id)
        elif isinstance(obj, CustomerPhone | CustomerEmail):
            customer_ids.add(obj.customer_id)
            state: Any = inspect(obj)
            previous = state.attrs.customer_id.history.deleted
            customer_ids.update(c for c in previous if c is not None)
    for obj in session.deleted:
        if isinstance(obj, TimelineEntry):
            gone["entry"].add(obj.id)
        elif isinstance(obj, Customer):
            gone["customer"].add(obj.id)
            customer_ids.discard(obj.id)
        elif isinstance(obj, CustomerPhone | CustomerEmail):
            customer_ids.add(obj.customer_id)
        elif isinstance(obj, Ticket):
            gone["ticket"].add(obj.id)
    if not (tickets or entries or customer_ids or valued or any(gone.values())):
        return
    conn = session.connection()
    # A changed ticket keeps its field values' words; one whose values changed is read afresh.
    new_ids = {obj.id for obj in session.new if isinstance(obj, Ticket)}
    old = {i for i in tickets if i not in valued and i not in new_ids}
    for ticket_id, values in _field_values(conn, old).items():
        tickets[ticket_id] = {**tickets[ticket_id], **_with_values(tickets[ticket_id], values)}
    valued -= gone["ticket"]
    for row in _ticket_documents(conn, valued):
        tickets[row["ref_id"]] = row
    _write(conn, "ticket", set(tickets) | gone["ticket"], list(tickets.values()))
    _write(conn, "entry", set(entries) | gone["entry"], [row for row in entries.values() if row])
    customer_ids -= gone["customer"]
    _write(conn, "customer", customer_ids | gone["customer"], _customer_documents(conn, customer_ids))


def reindex_customers(conn: Connection, ids: set[int]) -> None:
    """Index these customers again after a bulk write the flush listener cannot see (a Core
    ``insert`` of many phones and emails at once, as the CSV import does)."""
    if ids:
        _write(conn, "customer", ids, _customer_documents(conn, ids))


def _with_values(document: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """A ticket document made from the row alone, given its stored field values too."""
    text = "\n".join([document["title"], *values])
    extra = [t for v in values for t in terms(v)]
    return {"text": _stored(text, SNIPPET_CHARS), "terms": " ".join([document["terms"], *extra]).strip()}


def install(db: Database) -> None:
    """Index every flush of ``db``'s sessions (once per database)."""
    # Marked on the class itself: SQLAlchemy's registry is keyed by id(), and a new class can
    # take the id of a collected one, so ``event.contains`` may answer for the wrong class.
    if not db.session_class.__dict__.get("search_indexed"):
        event.listen(db.session_class, "after_flush", index_flush)
        db.session_class.search_indexed = True  # type: ignore[attr-defined]


def rebuild(conn: Connection, batch: int = 2000) -> int:
    """Index everything again from the records (the migration that adds the index calls it, so it
    reads plain columns: a model may have gained columns a later migration adds)."""
    conn.execute(delete(SearchDocument))
    count = 0
    tickets = select(Ticket.id, Ticket.subject, Ticket.customer_id, Ticket.created_at)
    entries = select(TimelineEntry.id, TimelineEntry.ticket_id, TimelineEntry.kind, TimelineEntry.payload,
                     TimelineEntry.created_at)
    # The migration that adds the index runs before custom fields exist.
    has_values = inspect(conn).has_table(TicketFieldValue.__tablename__)
    values: dict[int, list[str]] = {}
    sources: tuple[tuple[Any, Any, Any], ...] = (
        (tickets, Ticket.id, lambda r: ticket_document(_record(**r._mapping, number=r.id + TICKET_NUMBER_OFFSET),
                                                       values.get(r.id, []))),
        (entries, TimelineEntry.id, lambda r: entry_document(_record(**r._mapping))),
    )
    for stmt, key, make in sources:
        last = 0
        while rows := conn.execute(stmt.where(key > last).order_by(key).limit(batch)).all():
            last = rows[-1].id
            values = _field_values(conn, {r.id for r in rows}) if has_values and key is Ticket.id else {}
            documents = [d for d in (make(r) for r in rows) if d]
            if documents:
                conn.execute(insert(SearchDocument), documents)
            count += len(documents)
    last = 0
    while ids := list(conn.execute(select(Customer.id).where(Customer.id > last).order_by(Customer.id).limit(batch)).scalars()):
        last = ids[-1]
        documents = _customer_documents(conn, set(ids))
        conn.execute(insert(SearchDocument), documents)
        count += len(documents)
    return count


def _record(**values: Any) -> Any:
    """A record's columns as attributes, for the document functions during a rebuild."""
    return SimpleNamespace(**values)


_FTS = table("search_fts", column("rowid"), column("search_fts"))
# PostgreSQL's stored vector of ``terms`` (a generated column the model does not describe).
_TSV: Any = literal_column("search_documents.terms_tsv")


def match_source(query: Query, sqlite: bool) -> tuple[Any, Any, Any]:
    """What to select from, the condition and the column that orders newest first, for the
    documents holding every term. On SQLite the FTS table drives the join, so the database
    reads the matches newest first and stops at the LIMIT; PostgreSQL reads the GIN index."""
    words = [*query.terms] if query.terms else [query.phone or ""]
    if sqlite:
        match = " ".join(f'"{w}"' for w in words[:-1])
        match = (match + f' "{words[-1]}"' + ("*" if query.prefix else "")).strip()
        # A lightweight table, not text(): a value bound into text() can be served from
        # SQLAlchemy's statement cache with an earlier query's value.
        source = _FTS.join(SearchDocument.__table__, SearchDocument.id == _FTS.c.rowid)
        return source, _FTS.c.search_fts.op("MATCH")(match), _FTS.c.rowid
    tsquery = " & ".join(f"'{w}'" for w in words[:-1])
    last = f"'{words[-1]}'" + (":*" if query.prefix else "")
    tsquery = f"{tsquery} & {last}" if tsquery else last
    # The query inline, not a bound parameter: a prepared statement's generic plan cannot tell a
    # rare word (read the GIN index) from a common one (walk the newest rows), and picks one for all.
    quoted = "'" + tsquery.replace("'", "''") + "'"
    condition = _TSV.op("@@")(func.to_tsquery(literal_column("'simple'::regconfig"), literal_column(quoted)))
    return SearchDocument.__table__, condition, SearchDocument.id
