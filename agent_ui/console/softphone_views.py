"""The browser softphone's API: the console asks for its SIP credentials on each page.

Thin handlers: who is asking, then ``SoftphoneCredentialService`` decides (a desk-phone user
gets ``{"enabled": false}``). Also declares the PBX's WebSocket URL to the page's
Content-Security-Policy, so the console may connect there and nowhere else.
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import signed_in
from agent_ui.base.security_headers import CONNECT_SOURCES
from core.errors import NotAuthenticated, Unavailable
from cti.plugin import CTI
from cti.softphone import SoftphoneCredentialService


def _softphones(request: web.Request) -> SoftphoneCredentialService:
    service = request.app.get(CTI)
    if service is None:
        raise Unavailable("the CTI is not running")
    return service.softphones


async def open_session(request: web.Request) -> web.Response:
    """This console session's SIP credentials (the same on every page of one login)."""
    who = signed_in(request)
    if who is None or who.csrf_token is None:
        raise NotAuthenticated("the browser phone belongs to a console session (log in)")
    service = _softphones(request)
    credentials = await service.open(who.actor, service.session_key(who.csrf_token))
    return web.json_response(credentials.as_dict() if credentials is not None else {"enabled": False})


def softphone_ws_urls(app: web.Application) -> list[str]:
    service = app.get(CTI)
    return service.softphones.ws_urls() if service is not None else []


def setup_routes(app: web.Application) -> None:
    app[CONNECT_SOURCES] = softphone_ws_urls
    app.router.add_post("/api/v1/softphone/session", open_session)
    openapi.PATHS["/api/v1/softphone/session"] = {"post": openapi_parts.operation(
        "My browser phone's SIP credentials for this console session (enabled: false with a desk phone)",
        {"type": "object"}, errors=(401, 403, 404, 503),
    )}
