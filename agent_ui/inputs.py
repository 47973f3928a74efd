"""Reading request input into plain values, with clear errors for bad input.

Every JSON body goes through ``read_json`` and every form through ``read_form``: one place
that refuses what would crash or corrupt something further in, each with a 400 naming the
field: nesting deeper than ``MAX_DEPTH`` (a deep body would exhaust the stack), numbers
that are not finite or do not fit a 64-bit column, text with lone surrogates (it cannot be
encoded, so storing it would break every later read), and text longer than its cap
(``agent_ui.input_caps``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from agent_ui.input_caps import TEXT_CAP, cap_of
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


def _walk(value: Any, field: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every scalar (and key) with the name of the field it came from, nesting checked."""
    if depth > MAX_DEPTH:
        raise _field_error(field, f"nests deeper than {MAX_DEPTH} levels", max_depth=MAX_DEPTH)
    if isinstance(value, dict):
        for key, item in value.items():
            label = key or '""'  # an empty key still needs a name the client can read
            name = label if field == BODY else f"{field}.{label}"
            yield name, key
            yield from _walk(item, name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{field}[{index}]", depth + 1)
    else:
        yield field, value


def _top_field(field: str) -> str:
    return field.split(".", 1)[0].split("[", 1)[0]


def check_text(value: str, field: str, cap: int) -> str:
    """The text itself, or a 400 naming the field: too long, or not encodable as UTF-8."""
    if len(value) > cap:
        raise _field_error(field, f"is longer than {cap:,} characters", max_length=cap, length=len(value))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _field_error(field, "contains a lone surrogate (text that is not valid Unicode)") from None
    return value


def check_value(value: Any, schema: str | None = None, surrogates_possible: bool = True) -> Any:
    """The parsed JSON value, once every part of it passed the rules above."""
    if not _looks_clean(value, schema, surrogates_possible):
        name_the_problem(value, schema)
    return value


def name_the_problem(value: Any, schema: str | None = None) -> None:
    """The walk that names the field at fault (slower: only run when there is one)."""
    for field, item in _walk(value, BODY):
        if isinstance(item, str):
            check_text(item, field, cap_of(schema, _top_field(field)))
        elif isinstance(item, _NotFinite) or (isinstance(item, float) and not math.isfinite(item)):
            raise _field_error(field, "must be a finite number")
        elif isinstance(item, int) and not isinstance(item, bool) and not INT64_MIN <= item <= INT64_MAX:
            raise _field_error(field, "is out of range (a 64-bit integer)", min=INT64_MIN, max=INT64_MAX)


def _looks_clean(data: Any, schema: str | None, surrogates_possible: bool) -> bool:
    """The same rules as ``check_value``'s walk without naming anything: a megabyte body is
    checked in tens of milliseconds on the event loop; only a refusal pays for the names."""
    pending: list[tuple[Any, int, int]]
    if type(data) is dict:  # each top-level field with its own cap
        pending = [({key: item}, 0, cap_of(schema, key)) for key, item in data.items()]
    else:
        pending = [([data], -1, TEXT_CAP)]
    while pending:
        container, depth, cap = pending.pop()
        if depth > MAX_DEPTH or (container and depth + 1 > MAX_DEPTH):
            return False
        items: Any = container
        if type(container) is dict:
            items = [*container.keys(), *container.values()]
        for item in items:
            kind = type(item)
            if kind is str:
                if len(item) > cap:
                    return False
                if surrogates_possible:
                    try:
                        item.encode("utf-8")
                    except UnicodeEncodeError:
                        return False
            elif kind is int:
                if not INT64_MIN <= item <= INT64_MAX:
                    return False
            elif kind is dict or kind is list:
                pending.append((item, depth + 1, cap))
            elif (kind is float or kind is _NotFinite) and not math.isfinite(item):
                return False
    return True


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

    ``schema`` names the input schema whose length caps apply (``agent_ui.input_caps``);
    without one every string still has the general cap."""
    raw = await request.read()
    data = parse_json(raw, schema) if raw else None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object", {"field": BODY})
    return data


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


def str_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _field_error(name, "must be a list of strings")
    return value
