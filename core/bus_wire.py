"""The cluster bus's wire format: an event as text frames small enough for ``NOTIFY``.

PostgreSQL refuses a ``NOTIFY`` payload of 8,000 bytes or more, so an event is sent as one or
more frames, each under the transport's ``limit``. A frame is one line of ASCII::

    fd1|<origin>|<boot>|<seq>|<sent_ms>|<part>|<total>|<piece of the event's JSON>

``origin`` is the sending instance's id and ``boot`` a token drawn when its bus started (two
buses in one process, or a restarted instance keeping its id, stay apart); ``seq`` counts the
events that bus sent, so a receiver sees a gap when frames were lost; ``sent_ms`` is the
sender's wall clock, for the cross-instance lag. The JSON is ASCII-escaped (``ensure_ascii``),
so characters and bytes are the same count and a cut never splits a character. A sender
writes an event's frames one after the other on one connection, so one origin's frames never
interleave; ``Reassembler`` joins them and drops a partial event when the next one starts.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from typing import Any

from core.events import DomainEvent

MAGIC = "fd1"
PG_NOTIFY_LIMIT = 7900  # bytes per frame: PostgreSQL's limit is 8,000 (the channel name counts apart)
ORIGIN_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")
_HEADER_FIELDS = 7


class UnknownEvent(ValueError):
    """A frame names an event this version does not know (an instance on another release)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    origin: str
    boot: str
    seq: int
    sent_ms: int
    part: int
    total: int
    piece: str


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """A whole event's JSON as it came over the wire, with where and when it came from."""

    origin: str
    boot: str
    seq: int
    sent_ms: int
    body: str


def json_default(value: Any) -> Any:
    """How an event's fields that JSON lacks travel: sets as lists, times as ISO text."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def event_body(event: DomainEvent) -> str:
    """The event as ASCII JSON (``{"event": name, "data": {...}}``)."""
    return json.dumps(event.to_wire(), default=json_default, ensure_ascii=True, separators=(",", ":"))


def frames(body: str, origin: str, boot: str, seq: int, sent_ms: int, limit: int) -> list[str]:
    """``body`` cut into frames of at most ``limit`` characters each (header included)."""
    total_guess = 1
    while True:
        header_len = len(_header(origin, boot, seq, sent_ms, total_guess, total_guess))
        room = limit - header_len
        if room < 64:
            raise ValueError(f"frame limit {limit} leaves no room for the event after its header")
        total = max(1, -(-len(body) // room))
        if total <= total_guess:
            break
        total_guess = total  # more parts make the header longer: size again with the larger count
    return [_header(origin, boot, seq, sent_ms, i + 1, total) + body[i * room:(i + 1) * room] for i in range(total)]


def _header(origin: str, boot: str, seq: int, sent_ms: int, part: int, total: int) -> str:
    return f"{MAGIC}|{origin}|{boot}|{seq}|{sent_ms}|{part}|{total}|"


def parse_frame(text: str) -> Frame:
    """One frame, or ValueError for anything that is not one of ours."""
    fields = text.split("|", _HEADER_FIELDS)
    if len(fields) != _HEADER_FIELDS + 1 or fields[0] != MAGIC:
        raise ValueError("not a frontdesk bus frame")
    _magic, origin, boot, seq, sent_ms, part, total, piece = fields
    frame = Frame(origin, boot, int(seq), int(sent_ms), int(part), int(total), piece)
    if not 1 <= frame.part <= frame.total:
        raise ValueError(f"frame part {frame.part} of {frame.total}")
    return frame


class Reassembler:
    """Joins each origin's frames back into whole events (frames of one origin arrive in order)."""

    def __init__(self) -> None:
        self._partial: dict[tuple[str, str], tuple[int, list[str]]] = {}
        self._skipping: dict[tuple[str, str], int] = {}  # the event whose remaining frames are ignored
        self.broken = 0  # events lost part-way (a frame missing): the receiver resynchronises

    def feed(self, text: str) -> Received | None:
        frame = parse_frame(text)
        key = (frame.origin, frame.boot)
        if frame.total == 1:
            self._drop_partial(key)
            return Received(frame.origin, frame.boot, frame.seq, frame.sent_ms, frame.piece)
        current = self._partial.get(key)
        if frame.part == 1:
            self._drop_partial(key)
            current = self._partial[key] = (frame.seq, [])
        if current is None or current[0] != frame.seq or len(current[1]) != frame.part - 1:
            if self._partial.pop(key, None) is not None or self._skipping.get(key) != frame.seq:
                self.broken += 1  # counted once per event lost
            self._skipping[key] = frame.seq
            return None
        current[1].append(frame.piece)
        if frame.part < frame.total:
            return None
        del self._partial[key]
        return Received(frame.origin, frame.boot, frame.seq, frame.sent_ms, "".join(current[1]))

    def _drop_partial(self, key: tuple[str, str]) -> None:
        if self._partial.pop(key, None) is not None:
            self.broken += 1


def decode_event(body: str) -> DomainEvent:
    """The event back from its JSON; lists become tuples where the event declares a tuple."""
    message = json.loads(body)
    cls = DomainEvent.registry.get(message.get("event"))
    if cls is None:
        raise UnknownEvent(f"unknown event {message.get('event')!r}")
    data = dict(message["data"])
    for field in _tuple_fields(cls):
        if isinstance(data.get(field), list):
            data[field] = tuple(data[field])
    return cls(**data)


def _tuple_fields(cls: type[DomainEvent]) -> list[str]:
    """The fields declared as tuples (frozen events keep tuples: they must stay hashable and equal)."""
    found = _TUPLE_FIELDS.get(cls)
    if found is None:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # an annotation that does not resolve: read the text instead
            hints = {f.name: f.type for f in dataclasses.fields(cls)}
        found = []
        for f in dataclasses.fields(cls):
            hint = hints.get(f.name, f.type)
            if typing.get_origin(hint) is tuple or (isinstance(hint, str) and hint.startswith("tuple")):
                found.append(f.name)
        _TUPLE_FIELDS[cls] = found
    return found


_TUPLE_FIELDS: dict[type[DomainEvent], list[str]] = {}
