"""Reading request input into plain values, with clear errors for bad input.

Every JSON body goes through ``read_json`` and every form through ``read_form``: one place
that refuses what would crash or corrupt something further in, each with a 400 naming the
field: nesting deeper than ``MAX_DEPTH`` (a deep body would exhaust the stack), numbers
that are not finite or do not fit a 64-bit column, text with lone surrogates (it cannot be
encoded, so storing it would break every later read), and text longer than its cap
(``agent_ui.base.input_caps``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from agent_ui.base.input_caps import TEXT_CAP, cap_of
from core.errors import InvalidInput

MAX_DEPTH = 32
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
BODY = "(body)"  # the field name reported for a problem with the body as a whole


class _NotFinite(float):
    """What ``NaN``, ``Infinity`` and ``-Infinity`` parse to, so the walk can name their field."""


def _refuse_constant(text: str) -> float:
    return _NotFinite("nan")


def _field_error(field: str, message: str, **details: Any) -> InvalidInput:
    return InvalidInput(f"{field} {message}", {"field": field, **details})


def check_text(value: str, field: str, cap: int) -> str:
    """The text itself, or a 400 naming the field: too long, or not encodable as UTF-8."""
    if len(value) > cap:
        raise _field_error(field, f"is longer than {cap:,} characters", max_length=cap, length=len(value))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _field_error(field, "contains a lone surrogate (text that is not valid Unicode)") from None
    return value


def _text_problem(text: str, cap: int, surrogates_possible: bool) -> bool:
    if len(text) > cap:
        return True
    if surrogates_possible:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


def _scalar_problem(item: Any, cap: int, surrogates_possible: bool) -> bool:
    kind = type(item)
    if kind is str:
        return _text_problem(item, cap, surrogates_possible)
    if kind is int:
        return not INT64_MIN <= item <= INT64_MAX
    if kind is float or kind is _NotFinite:
        return not math.isfinite(item)
    return False


# A container still to check, and how to name what is inside it: (value, depth, cap, index of
# the enclosing frame or -1, key or index in that frame or None for the body itself). Plain
# tuples: a deeply nested body makes one per container.
_Frame = tuple[Any, int, int, int, "str | int | None"]


def _name(frames: list[_Frame], at: int, label: str | int | None) -> str:
    parts: list[str | int] = [] if label is None else [label]
    while at >= 0:
        _value, _depth, _cap, parent, step = frames[at]
        if step is None:
            break
        parts.append(step)
        at = parent
    name = BODY if parts and isinstance(parts[-1], int) else ""  # the body itself is a list
    for part in reversed(parts):
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            part = part or '""'  # an empty key still needs a name the client can read
            name += f".{part}" if name else part
    return name or BODY


def check_value(value: Any, schema: str | None = None, surrogates_possible: bool = True) -> Any:
    """The parsed JSON value once every part of it passed the rules above; the first part
    that did not is a 400 naming its field (``tags[1]``, ``levels[0].message``).

    One iterative pass, with names built only for a refusal: a megabyte body is checked in
    tens of milliseconds on the event loop, and no nesting reaches Python's recursion limit."""
    frames: list[_Frame] = [(value, 0, TEXT_CAP, -1, None)]
    if type(value) is not dict and type(value) is not list:
        if _scalar_problem(value, TEXT_CAP, surrogates_possible):
            _refuse(value, BODY, TEXT_CAP)
        return value
    pending = [0]
    while pending:
        at = pending.pop()
        container, depth, frame_cap, _parent, _label = frames[at]
        if container and depth >= MAX_DEPTH:
            field = _name(frames, at, None)
            raise _field_error(field, f"nests deeper than {MAX_DEPTH} levels", max_depth=MAX_DEPTH)
        pairs: Any
        if type(container) is dict:
            for key in container:
                cap = cap_of(schema, key) if at == 0 else frame_cap
                if _text_problem(key, cap, surrogates_possible):
                    _refuse(key, _name(frames, at, key), cap)
            pairs = container.items()
        else:
            pairs = enumerate(container)
        for label, item in pairs:
            kind = type(item)
            if kind is int:  # the common scalars inline: this loop runs once per value
                if INT64_MIN <= item <= INT64_MAX:
                    continue
            elif kind is str:
                if len(item) <= frame_cap and not surrogates_possible and at != 0:
                    continue
            elif kind is dict or kind is list:
                cap = cap_of(schema, label) if at == 0 and type(label) is str else frame_cap
                frames.append((item, depth + 1, cap, at, label))
                pending.append(len(frames) - 1)
                continue
            elif kind is not float and kind is not _NotFinite:
                continue  # None, true, false
            cap = cap_of(schema, label) if at == 0 and type(label) is str else frame_cap
            if _scalar_problem(item, cap, surrogates_possible):
                _refuse(item, _name(frames, at, label), cap)
    return value


def _refuse(item: Any, field: str, cap: int) -> None:
    if isinstance(item, str):
        check_text(item, field, cap)
    elif isinstance(item, float):
        raise _field_error(field, "must be a finite number")
    raise _field_error(field, "is out of range (a 64-bit integer)", min=INT64_MIN, max=INT64_MAX)


# A lone surrogate can only come from a \uD800-\uDFFF escape or from its UTF-8 form (json
# decodes bytes with "surrogatepass"); a body with neither skips the per-string check.
_SURROGATE_SOURCE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def parse_json(raw: bytes | str, schema: str | None = None) -> Any:
    """Any JSON value, checked; ``InvalidInput`` for anything the rules refuse."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _field_error(BODY, f"nests deeper than {MAX_DEPTH} levels", max_depth=MAX_DEPTH) from None
    except (ValueError, UnicodeDecodeError):  # also a number with more digits than int() takes
        raise InvalidInput("the request body is not valid JSON", {"field": BODY}) from None
    encoded = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return check_value(data, schema, _SURROGATE_SOURCE.search(encoded) is not None)


async def read_json(request: web.Request, schema: str | None = None) -> dict[str, Any]:
    """The body as a JSON object; malformed JSON is a 400 (an oversized body a 413).

    ``schema`` names the input schema whose length caps apply (``agent_ui.base.input_caps``);
    without one every string still has the general cap."""
    raw = await request.read()
    data = parse_json(raw, schema) if raw else None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object", {"field": BODY})
    return data


async def read_text(request: web.Request) -> str:
    """The body as text in its declared charset (UTF-8 when none); bytes that are not text in it
    are a 400, not a ``UnicodeDecodeError``."""
    raw = await request.read()
    try:
        return raw.decode(request.charset or "utf-8")
    except (UnicodeDecodeError, LookupError):  # LookupError: a charset Python does not know
        raise InvalidInput("the request body is not valid text in its character set", {"field": BODY}) from None


async def form_of(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form as aiohttp reads it; a field that is not valid text in its charset
    (a multipart part is decoded strictly) is a 400, not a ``UnicodeDecodeError``."""
    try:
        return await request.post()
    except (UnicodeDecodeError, LookupError):  # LookupError: a charset Python does not know
        raise InvalidInput("a form field is not valid text in its character set", {"field": BODY}) from None


async def read_form(request: web.Request, schema: str | None = None) -> dict[str, str]:
    """The form's text fields (uploads left out), with the same text rules as JSON."""
    form = await form_of(request)
    return {
        key: check_text(value, key, cap_of(schema, key))
        for key, value in form.items()
        if isinstance(value, str)
    }


def as_int(value: Any, name: str) -> int:
    """A whole number that fits a 64-bit column (ids, limits): anything else is a 400."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _field_error(name, "must be a whole number", **{name: value})
    if isinstance(value, str) and len(value) > 25:  # int() of a long string is slow
        raise _field_error(name, "is out of range (a 64-bit integer)")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise _field_error(name, "must be a whole number") from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise _field_error(name, "is out of range (a 64-bit integer)", min=INT64_MIN, max=INT64_MAX)
    return number


def path_int(request: web.Request, name: str) -> int:
    return as_int(request.match_info[name], name)


def optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _field_error(name, "must be a string")
    return value


def optional_bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false", {name: value})
    return value


def str_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _field_error(name, "must be a list of strings")
    return value
