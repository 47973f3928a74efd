"""Reading request input into plain values, with clear errors for bad input."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from core.errors import InvalidInput


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; malformed JSON is a 400 (an oversized body a 413)."""
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a whole number", {name: value})
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a whole number", {name: value}) from None


def path_int(request: web.Request, name: str) -> int:
    return as_int(request.match_info[name], name)


def optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", {name: value})
    return value


def optional_bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false", {name: value})
    return value


def str_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings")
    return value
