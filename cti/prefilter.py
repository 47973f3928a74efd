"""The tracker's door filter on raw bytes: frames it would drop are never turned into dicts.

At 12,000 events/s most frames are VarSet and dialplan chatter the tracker ignores; building
a ``dict`` for each one only to drop it took most of the event loop. This check reads the
``Event:`` line (and a VarSet's ``Variable:`` line) of the undecoded frame instead. It only
ever drops a frame it is sure about: anything that does not start with ``Event:``, carries an
``ActionID`` (a list item or the reply of one of our actions) or is oddly formed is kept
for the full parser, and ``cti.tracker.wants`` still checks every frame that gets through.
"""

from __future__ import annotations

from collections.abc import Iterable

_EVENT = b"Event: "
_VARIABLE = b"\nVariable:"


class RawEventFilter:
    """``keep(raw)``: False only for a frame of an untracked event (or an untracked VarSet)."""

    __slots__ = ("events", "variables")

    def __init__(self, events: Iterable[str], variables: Iterable[str]) -> None:
        self.events = frozenset(e.encode() for e in events if e != "VarSet")
        self.variables = frozenset(v.encode() for v in variables)

    def __call__(self, raw: bytes) -> bool:
        if not raw.startswith(_EVENT):
            return True  # a response, the banner, anything unusual: the parser decides
        end = raw.find(b"\n", 7)
        name = (raw[7:] if end < 0 else raw[7:end]).rstrip(b"\r")
        if name in self.events or b"ActionID:" in raw:
            return True
        if name != b"VarSet":
            return False
        at = raw.find(_VARIABLE)
        if at < 0:
            return True  # malformed: let the parser count it
        end = raw.find(b"\n", at + 1)
        value = (raw[at + len(_VARIABLE):] if end < 0 else raw[at + len(_VARIABLE):end]).strip()
        return value in self.variables
