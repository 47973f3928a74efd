"""Who is on a ticket's page right now, and who is typing a reply there ("Bob is replying").

Kept on the live connections themselves (the page's ``watch`` says which ticket it shows, a
``{"presence": "replying"|"viewing"}`` message whether its person is typing), so it costs
nothing per keystroke in the database and its memory is bounded by the open sockets: when
a socket closes or its page moves on, its person is gone from the ticket. The hub sends
``ticket.presence`` to the ticket's pages whenever that list changes.

With several instances, two people on one ticket may be connected to different ones: each
hub publishes its own people on a ticket whenever they change (``TicketViewers``, to no
browser) and merges what the other instances published into the frames it sends.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, ClassVar, Protocol

from core.events import DomainEvent

VIEWING = "viewing"
REPLYING = "replying"
STATES = frozenset({VIEWING, REPLYING})
MAX_PRESENCE_MESSAGE = 64


class PresentConnection(Protocol):
    @property
    def user_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    @property
    def replying(self) -> bool: ...


@dataclasses.dataclass(frozen=True)
class TicketViewers(DomainEvent):
    """The people one instance has on a ticket's page now (empty: nobody any more)."""

    name: ClassVar[str] = "ticket.viewers"
    ticket_id: int
    instance: str
    people: tuple[dict[str, Any], ...]
    user_ids: tuple[int, ...] = ()  # to no browser: each hub sends its own ``ticket.presence``


def merged(local: list[dict[str, object]], remote: Iterable[Iterable[dict[str, Any]]]) -> list[dict[str, object]]:
    """This instance's people and the other instances', one line per person (replying wins), by name."""
    people = {int(str(p["user_id"])): dict(p) for p in local}
    for listing in remote:
        for person in listing:
            known = people.get(int(person["user_id"]))
            if known is None:
                people[int(person["user_id"])] = dict(person)
            elif person.get("state") == REPLYING:
                known["state"] = REPLYING
    return sorted(people.values(), key=lambda p: (str(p["name"]).lower(), int(str(p["user_id"]))))


def people_on(conns: Iterable[PresentConnection]) -> list[dict[str, object]]:
    """One line per person (several tabs are one person; typing in any of them is replying), by name."""
    people: dict[int, dict[str, object]] = {}
    for conn in conns:
        if conn.user_id is None:
            continue  # an API client is nobody on the page
        known = people.get(conn.user_id)
        if known is None:
            people[conn.user_id] = {"user_id": conn.user_id, "name": conn.name, "state": REPLYING if conn.replying else VIEWING}
        elif conn.replying:
            known["state"] = REPLYING
    return sorted(people.values(), key=lambda p: (str(p["name"]).lower(), int(str(p["user_id"]))))


def presence_frame(ticket_id: int, conns: Iterable[PresentConnection],
                   remote: Iterable[Iterable[dict[str, Any]]] = ()) -> str:
    return json.dumps({"event": "ticket.presence",
                       "data": {"ticket_id": ticket_id, "people": merged(people_on(conns), remote)}})


def read_presence(text: str) -> str | None:
    """``{"presence": "replying"}`` → ``"replying"``; anything else None (a page says nothing else)."""
    if len(text) > MAX_PRESENCE_MESSAGE or '"presence"' not in text:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    state = message.get("presence") if isinstance(message, dict) else None
    return state if isinstance(state, str) and state in STATES else None
