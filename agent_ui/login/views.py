"""Log in and out of the console."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from aiohttp import web

from agent_ui.base.identity import signed_in
from agent_ui.base.inputs import read_form
from agent_ui.base.keys import SERVICES, SESSIONS
from agent_ui.base.rendering import render
from agent_ui.base.sessions import COOKIE_NAME
from agent_ui.login.limiter import LOGIN_LIMITER, LoginFailed, LoginSucceeded
from core.errors import TooManyRequests
from core.events import SignedOut
from core.users import authenticate

HOME = "/queue"
# Percent-decoding rounds checked: enough for any double-encoding a proxy or browser undoes.
_DECODE_ROUNDS = 3


def _spoils_a_path(char: str) -> bool:
    """Characters that browsers or URL libraries drop, fold or treat as a separator."""
    return char == "\\" or char.isspace() or unicodedata.category(char)[0] in "CZ"


def _same_site_path(text: str) -> bool:
    return text.startswith("/") and not text.startswith(("//", "/\\")) and not any(map(_spoils_a_path, text))


def safe_next(target: str | None) -> str:
    """Only a path on this site, so the login page (and the language switcher) cannot
    bounce people elsewhere. Checked on the text as sent, and its path on every
    percent-decoded form too: a tab or backslash that yarl or the browser would later strip
    or fold could otherwise turn ``/\t/evil.example`` into ``//evil.example``. (A query's
    encoded spaces stay allowed: past the ``?`` nothing can change the site.)"""
    if not target or not _same_site_path(target):
        return HOME
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(path)
        if decoded == path:
            return target
        if not _same_site_path(decoded):
            return HOME
        path = decoded
    return HOME


async def login_page(request: web.Request) -> web.StreamResponse:
    if signed_in(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    context = {"next": safe_next(request.query.get("next")), "login": "", "problem": None}
    return render("login.html", request, context)


async def login(request: web.Request) -> web.StreamResponse:
    form = await read_form(request, "Login")
    login_name = str(form.get("login", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    address = request.remote or "unknown"
    limiter = request.app[LOGIN_LIMITER]
    services = request.app[SERVICES]
    context = {"next": target, "login": login_name, "problem": "wrong-login"}
    try:
        limiter.check(address, login_name)
    except TooManyRequests as exc:
        context["problem"] = "rate-limited"
        response = render("login.html", request, context, status=429)
        response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response
    async with services.db.transaction() as session:
        user = await authenticate(session, login_name, password) if login_name else None
        if user is None:
            await services.bus.publish(LoginFailed(address, login_name))  # counted by every instance's limiter
            return render("login.html", request, context, status=401)
        cookie = await request.app[SESSIONS].open(session, user)
    await services.bus.publish(LoginSucceeded(address, login_name))
    response = web.HTTPSeeOther(target)
    request.app[SESSIONS].set_cookie(response, cookie)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        async with request.app[SERVICES].db.transaction() as session:
            await request.app[SESSIONS].close(session, cookie)
        who = signed_in(request)
        if who is not None:
            await request.app[SERVICES].bus.publish(SignedOut((who.user.id,)))
    response = web.HTTPSeeOther("/login")
    request.app[SESSIONS].clear_cookie(response)
    raise response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
