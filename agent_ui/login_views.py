"""Log in and out of the console."""

from __future__ import annotations

from aiohttp import web

from agent_ui.identity import signed_in
from agent_ui.keys import LOGIN_LIMITER, SERVICES, SESSIONS
from agent_ui.rendering import render
from agent_ui.sessions import COOKIE_NAME
from core.errors import TooManyRequests
from core.users import authenticate


def safe_next(target: str | None) -> str:
    """Only local paths, so the login page cannot be used to bounce people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


async def login_page(request: web.Request) -> web.StreamResponse:
    if signed_in(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    context = {"next": safe_next(request.query.get("next")), "login": "", "problem": None}
    return render("login.html", request, context)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
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
            limiter.failed(address, login_name)
            return render("login.html", request, context, status=401)
        cookie = await request.app[SESSIONS].open(session, user)
    limiter.succeeded(address, login_name)
    response = web.HTTPSeeOther(target)
    request.app[SESSIONS].set_cookie(response, cookie)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        async with request.app[SERVICES].db.transaction() as session:
            await request.app[SESSIONS].close(session, cookie)
    response = web.HTTPSeeOther("/login")
    request.app[SESSIONS].clear_cookie(response)
    raise response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
