"""API tokens: named, with an expiry, listed and revoked — a page, REST, and the CLI
(``frontdesk token``, in ``config.cli``).

A token is shown once, when made; only its hash and first characters are kept. A script
gets its first token without a browser session (so without scraping a CSRF token) by
sending its login and password to ``POST /api/v1/tokens/password`` (rate-limited like the
login form), or from ``frontdesk token add``. Routes:

- ``GET  /settings/tokens``                 my tokens (ops: everyone's), make and revoke
- ``GET  /api/v1/tokens`` (``?all=1``)      list; ``POST`` make one (``name``, ``days``)
- ``POST /api/v1/tokens/password``          login + password → a token (no session)
- ``DELETE /api/v1/tokens/{id}``            revoke
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import optional_str, path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.login.limiter import LOGIN_LIMITER
from core.auth import Actor
from core.errors import NotAuthenticated
from core.users import (
    TOKEN_DAYS_DEFAULT,
    TOKEN_DAYS_MAX,
    authenticate,
    issue_own_token,
    list_tokens,
    may_manage_all_tokens,
    revoke_token,
    token_dict,
    token_state,
)


def _made(token: str, row: Any) -> dict[str, Any]:
    return {"token": token, **token_dict(row)}


async def tokens_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    everyone = request.query.get("all") == "1"
    services = request.app[SERVICES]
    now = services.clock.now()
    async with services.db.session() as session:
        rows = await list_tokens(session, actor, everyone=everyone, login=request.query.get("login"))
        body = [{**token_dict(t, u), "state": token_state(t, now)} for t, u in rows]
    return web.json_response({"tokens": body})


async def new_token_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "TokenDraft")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        token, row = await issue_own_token(session, actor, optional_str(data, "name") or "", services.clock.now(),
                                           data.get("days"))
        body = _made(token, row)
    return web.json_response(body, status=201)


async def token_by_password_api(request: web.Request) -> web.Response:
    """A script's first token: its person's login and password, no browser session."""
    data = await read_json(request, "TokenDraft")
    login = (optional_str(data, "login") or "").strip()
    password = optional_str(data, "password") or ""
    address = request.remote or "unknown"
    limiter = request.app[LOGIN_LIMITER]
    limiter.check(address, login)  # TooManyRequests (429) after repeated failures
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        user = await authenticate(session, login, password) if login else None
        if user is None:
            limiter.failed(address, login)
            raise NotAuthenticated("wrong login or password")
        token, row = await issue_own_token(session, Actor.of(user), optional_str(data, "name") or "",
                                           services.clock.now(), data.get("days"))
        body = _made(token, row)
    limiter.succeeded(address, login)
    return web.json_response(body, status=201)


async def revoke_token_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        row = await revoke_token(session, actor, path_int(request, "token_id"), services.clock.now())
        body = {**token_dict(row), "state": "revoked"}
    return web.json_response(body)


async def _page(request: web.Request, made: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    now = services.clock.now()
    everyone = may_manage_all_tokens(actor)
    async with services.db.session() as session:
        mine = await list_tokens(session, actor)
        others = []
        if everyone:
            others = [(t, u) for t, u in await list_tokens(session, actor, everyone=True) if u.id != actor.user_id]
    rows = [{**token_dict(t, u), "state": token_state(t, now)} for t, u in mine]
    other_rows = [{**token_dict(t, u), "state": token_state(t, now)} for t, u in others]
    context = {"tokens": rows, "others": other_rows, "made": made, "days_default": TOKEN_DAYS_DEFAULT,
               "days_max": TOKEN_DAYS_MAX}
    return render("tokens/tokens.html", request, context, status=status)


async def tokens_page(request: web.Request) -> web.Response:
    return await _page(request)


async def make_token_form(request: web.Request) -> web.Response:
    """The page's form: the new token is shown on the answer to this POST, never again."""
    actor = actor_of(request)
    form = await read_form(request, "TokenDraft")
    raw = str(form.get("days") or "").strip()
    days: object = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else (raw or None)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        token, row = await issue_own_token(session, actor, str(form.get("name", "")), services.clock.now(), days)
        made = _made(token, row)
    response = await _page(request, made, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke_token_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await revoke_token(session, actor, path_int(request, "token_id"), services.clock.now())
    raise web.HTTPSeeOther("/settings/tokens")


def _document() -> None:
    fields: dict[str, Any] = {
        "id": {"type": "integer"}, "name": {"type": "string"}, "hint": {"type": "string"},
        "created_at": {"type": "string"}, "expires_at": {"type": "string"},
        "revoked_at": {"type": ["string", "null"]}, "state": {"type": "string"}, "login": {"type": "string"}}
    token = {"type": "object", "properties": fields}
    made = {"type": "object", "properties": {"token": {"type": "string"}, **fields}}
    asked: dict[str, Any] = {"name": {"type": "string", "maxLength": 100},
                             "days": {"type": "integer", "minimum": 1, "maximum": TOKEN_DAYS_MAX}}
    make_body = {"type": "object", "required": ["name"], "properties": asked}
    password_body = {"type": "object", "required": ["login", "password", "name"], "properties": {
        "login": {"type": "string"}, "password": {"type": "string"}, **asked}}
    openapi.PATHS.update({
        "/api/v1/tokens": {
            "get": openapi_parts.operation("My API tokens (all=1: everyone's, ops)", {"type": "object", "properties": {
                "tokens": {"type": "array", "items": token}}},
                params=[openapi_parts.query("all", "1 for everyone's tokens (ops)"),
                        openapi_parts.query("login", "one person's tokens (ops)")]),
            "post": openapi_parts.operation("Make an API token acting as me (shown once; expires after days, default 90)",
                                made, status="201", body=make_body, errors=(401,)),
        },
        "/api/v1/me/tokens": {"post": openapi_parts.operation("Same as POST /api/v1/tokens", made, status="201",
                                                  body=make_body, errors=(401,))},
        "/api/v1/tokens/password": {"post": {
            **openapi_parts.operation("A script's first token from a login and password (no session, no CSRF)",
                          made, status="201", body=password_body, errors=(401, 429)),
            "security": []}},
        "/api/v1/tokens/{token_id}": {
            "parameters": [openapi_parts.path_id("token_id")],
            "delete": openapi_parts.operation("Revoke a token (mine; ops: anyone's)", token, errors=(401, 404)),
        },
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/settings/tokens", tokens_page)
    app.router.add_post("/settings/tokens", make_token_form)
    app.router.add_post("/settings/tokens/{token_id:\\d+}/revoke", revoke_token_form)
    app.router.add_get("/api/v1/tokens", tokens_api)
    app.router.add_post("/api/v1/tokens", new_token_api)
    app.router.add_post("/api/v1/me/tokens", new_token_api)
    app.router.add_post("/api/v1/tokens/password", token_by_password_api)
    app.router.add_delete("/api/v1/tokens/{token_id}", revoke_token_api)
    _document()
