"""A contact as the rules see it, and how each field of a condition is read from it.

One reader per field serves both the candidate index and the conditions, so the two can
never disagree about a contact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import phonenumbers

from core.clock import as_utc
from routing.contact import Contact
from routing.history import CustomerTickets, OpenTicket


@dataclasses.dataclass(slots=True)
class Facts:
    """One contact as the rules see it."""

    contact: Contact
    now: datetime
    tags: frozenset[str] = frozenset()
    language: str = ""
    history: CustomerTickets | None = None
    # the keyword automaton's keys found in the subject, in the body (computed once per decision)
    keyword_keys: tuple[set[int], set[int]] | None = None


Predicate = Callable[[Facts], str | None]  # why the condition holds, or None
Test = Callable[[Facts], bool]  # whether it holds: the cheap question asked of every candidate rule


def _domain(address: str | None) -> str:
    return address.rsplit("@", 1)[1].lower() if address and "@" in address else ""


def _country(address: str | None) -> str:
    if not address or not address.startswith("+"):
        return ""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(address)) or ""
    except phonenumbers.NumberParseException:
        return ""


READERS: dict[str, Callable[[Facts], Any]] = {  # how each field is read from the facts
    "channel": lambda f: f.contact.channel,
    "mailbox": lambda f: f.contact.attributes.get("mailbox"),
    "recipient": lambda f: [a.lower() for a in (f.contact.attributes.get("to") or [])],
    "pbx_queue": lambda f: f.contact.queue_hint if f.contact.channel == "voice" else None,
    "dialled_number": lambda f: f.contact.attributes.get("dialled"),
    "sender": lambda f: (f.contact.address or "").lower(),
    "phone_prefix": lambda f: f.contact.address or "",
    "sender_domain": lambda f: _domain(f.contact.address),
    "country": lambda f: _country(f.contact.address),
    "tier": lambda f: f.contact.customer_tier,
    "customer_tag": lambda f: list(f.tags),
    "language": lambda f: f.language,
    "known_customer": lambda f: f.contact.customer_id is not None,
    "reply": lambda f: f.contact.ticket_id is not None,
    "callback": lambda f: bool(f.contact.attributes.get("callback")),
    "automatic": lambda f: bool(f.contact.attributes.get("automatic")),
    "join_requested": lambda f: bool(f.contact.attributes.get("join")),
    # the top suggested reply template of a mail and its category (set by the mail ingest)
    "template": lambda f: f.contact.attributes.get("template"),
    "template_category": lambda f: f.contact.attributes.get("template_category"),
}


# Each flag's reader is its test when the rule wants it set; these are the tests when it wants it unset.
UNLESS: dict[str, Callable[[Facts], bool]] = {
    "known_customer": lambda f: f.contact.customer_id is None,
    "reply": lambda f: f.contact.ticket_id is None,
    "callback": lambda f: not f.contact.attributes.get("callback"),
    "automatic": lambda f: not f.contact.attributes.get("automatic"),
    "join_requested": lambda f: not f.contact.attributes.get("join"),
}


def text_of(field: str) -> Callable[[Facts], Any]:
    return READERS[field]


def keys_of(field: str) -> Callable[[Facts], str | list[str] | None]:
    """A field's value(s) as list conditions and the index compare them: case-folded, None when empty.

    One reader serves both the index lookup and the condition, so the two can never disagree.
    """
    special = FOLDED_READERS.get(field)
    if special is not None:
        return special
    read = READERS[field]

    def keys(f: Facts) -> str | list[str] | None:
        got = read(f)
        if isinstance(got, list):
            return [str(v).casefold() for v in got]
        return str(got).casefold() if got else None

    return keys


def _folded_sender(f: Facts) -> str | None:
    address = f.contact.address
    return address.lower().casefold() if address else None


def _folded_domain(f: Facts) -> str | None:
    address = f.contact.address
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].lower().casefold() or None


# The hot fields, read without the generic wrapper (each gives what ``keys_of``'s wrapper would).
FOLDED_READERS: dict[str, Callable[[Facts], str | list[str] | None]] = {
    "channel": lambda f: f.contact.channel.casefold() or None,
    "tier": lambda f: f.contact.customer_tier.casefold() or None if f.contact.customer_tier else None,
    "sender": _folded_sender,
    "sender_domain": _folded_domain,
}


def age_hours(facts: Facts, open_ticket: OpenTicket) -> float:
    return (facts.now - as_utc(open_ticket.updated_at)).total_seconds() / 3600
