"""The users admin over REST, for scripts (an admin's API token): the same services as the
pages and the CLI, so a value is checked, refused and audited the same way everywhere.

- ``PATCH /api/v1/users/{login}``                 change fields (``display_name``, ``roles``, ``skills``,
  ``extension``, ``pbx_interface``, ``language``, ``email``, ``mobile``, ``working_hours``; null clears)
- ``POST  /api/v1/users/{login}/disable|enable``  disabling ends sessions, tokens and open sockets at once
- ``POST  /api/v1/users/{login}/password-link``   a one-time link to set a new password (shown once)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import read_json
from agent_ui.base.keys import SERVICES
from core.clock import as_utc
from core.password_changes import issue_reset_link
from core.users import AccessEnded, edit_user, set_user_active, user_dict


async def patch_user(request: web.Request) -> web.Response:
    actor = actor_of(request)
    changes = await read_json(request, "UserDraft")
    async with request.app[SERVICES].db.transaction() as session:
        user = await edit_user(session, actor, request.match_info["login"], changes)
        body = {"user": user_dict(user)}
    return web.json_response(body)


async def _set_active(request: web.Request, active: bool) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        user = await set_user_active(session, actor, request.match_info["login"], active)
        body, user_id = {"user": user_dict(user)}, user.id
    if not active:
        await services.bus.publish(AccessEnded(user_id))
    return web.json_response(body)


async def disable_user(request: web.Request) -> web.Response:
    return await _set_active(request, False)


async def enable_user(request: web.Request) -> web.Response:
    return await _set_active(request, True)


async def password_link(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        token, row = await issue_reset_link(session, actor, request.match_info["login"], services.clock.now())
        expires = as_utc(row.expires_at).isoformat()
    base = services.settings.web.base_url.rstrip("/") or f"{request.scheme}://{request.host}"
    response = web.json_response({"link": f"{base}/password/reset?token={token}", "expires_at": expires}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


def _document() -> None:
    login = {"name": "login", "in": "path", "required": True, "schema": {"type": "string"}}
    user = openapi_parts.obj("user", openapi_parts.ref("User"))
    patch_body: dict[str, Any] = {"type": "object", "description": "only the fields to change; null clears one"}
    link = {"type": "object", "properties": {"link": {"type": "string"}, "expires_at": {"type": "string"}}}
    openapi.PATHS.update({
        "/api/v1/users/{login}": {"parameters": [login], "patch": openapi_parts.operation(
            "Change a person's roles, skills, phone, language, contact or working hours (admin)", user,
            body=patch_body, errors=(400, 401, 403, 404, 409))},
        "/api/v1/users/{login}/disable": {"parameters": [login], "post": openapi_parts.operation(
            "Disable a person: their sessions, tokens and live sockets end at once (admin)", user,
            errors=(401, 403, 404, 409))},
        "/api/v1/users/{login}/enable": {"parameters": [login], "post": openapi_parts.operation(
            "Enable a disabled person again (admin)", user, errors=(401, 403, 404))},
        "/api/v1/users/{login}/password-link": {"parameters": [login], "post": openapi_parts.operation(
            "A one-time link (a day) for the person to set a new password; shown once (admin)", link, status="201",
            errors=(401, 403, 404, 409))},
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_patch("/api/v1/users/{login}", patch_user)
    app.router.add_post("/api/v1/users/{login}/disable", disable_user)
    app.router.add_post("/api/v1/users/{login}/enable", enable_user)
    app.router.add_post("/api/v1/users/{login}/password-link", password_link)
    _document()
