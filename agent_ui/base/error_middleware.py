"""Every failure becomes a clear answer: JSON ``{"error","message","details"}`` for the API
and the live socket, an error page (or the login page) for the console. Nothing escapes as a
bare traceback, and the handler's transaction has already rolled back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from agent_ui.base.keys import LOCALIZER
from agent_ui.base.rendering import render, request_language
from agent_ui.base.vocabulary import N_
from core.db import database_unreachable
from core.errors import FrontdeskError, NotAuthenticated

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_S = 5  # a PostgreSQL restart takes seconds

_HTTP_ERROR_IDS = {
    400: "invalid-input",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "request-too-large",
    429: "too-many-requests",
}


def wants_json(request: web.Request) -> bool:
    """API and socket callers get a status they can act on; a redirect to the login page
    would turn a refused WebSocket handshake into an HTML page."""
    return (
        request.path.startswith("/api/")
        or request.path == "/ws"
        or request.headers.get("Upgrade", "").lower() == "websocket"
        or request.headers.get("Accept", "").startswith("application/json")
    )


def _in_their_language(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """The message in the asker's language when the catalogs have it (the ``error`` id and
    ``details`` stay as they are, for programs)."""
    localizer = request.app.get(LOCALIZER)
    if localizer is None or not isinstance(body.get("message"), str):
        return body
    try:
        return {**body, "message": localizer.gettext(request_language(request), body["message"])}
    except Exception:  # an answer in English beats no answer
        log.exception("cannot translate an error message")
        return body


def _error_response(request: web.Request, status: int, body: dict[str, Any]) -> web.StreamResponse:
    body = _in_their_language(request, body)
    headers = {}
    if status in (429, 503) and "retry_after" in body.get("details", {}):
        headers["Retry-After"] = str(body["details"]["retry_after"])
    if wants_json(request):
        return web.json_response(body, status=status, headers=headers)
    try:
        response = render("error.html", request, {"error": body}, status=status)
    except Exception:  # the error page itself failed: still answer plainly
        log.exception("cannot render the error page")
        response = web.Response(text=body["message"], status=status)
    response.headers.update(headers)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotAuthenticated as exc:
        if not wants_json(request) and request.method == "GET":
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}") from None
        return _error_response(request, exc.status, exc.as_dict())
    except FrontdeskError as exc:
        return _error_response(request, exc.status, exc.as_dict())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_id = _HTTP_ERROR_IDS.get(exc.status, "http-error")
        message = exc.text if exc.status == 413 and exc.text else exc.reason
        return _error_response(request, exc.status, {"error": error_id, "message": message, "details": {}})
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:
        if database_unreachable(exc):
            # A database restart or network cut, not a bug: one line, and an answer to retry on.
            log.warning("database unreachable answering %s %s: %s", request.method, request.path, exc)
            body = {"error": "database-unavailable",
                    "message": N_("the database cannot be reached just now; try again in a few seconds"),
                    "details": {"retry_after": DATABASE_RETRY_AFTER_S}}
            return _error_response(request, 503, body)
        log.exception("unexpected failure answering %s %s", request.method, request.path)
        body = {"error": "internal-error", "message": "something went wrong on the server", "details": {}}
        return _error_response(request, 500, body)
