"""A person's password: changed by themself (with the current one) on ``/settings/password``,
or set from an admin's one-time link on ``/password/reset?token=...`` (no login needed; the
token is redacted from the access log like every ``token=``).

- ``GET/POST /settings/password``   change mine; my other web logins end
- ``GET/POST /password/reset``      set a new one from a link; every web login of mine ends
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of, signed_in
from agent_ui.base.inputs import read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.base.vocabulary import N_
from core.errors import InvalidInput, NotFound
from core.password_changes import change_own_password, person_of_link, reset_with_link
from core.users import AccessEnded

DIFFERENT = N_("the two new passwords differ")


def _private(response: web.Response) -> web.Response:
    """Pages with a password form or a reset link are not cached or passed on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def password_page(request: web.Request) -> web.Response:
    actor_of(request)
    return _private(render("people/password.html", request, {"errors": {}, "saved": "saved" in request.query}))


async def change_password_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    form = await read_form(request, "PasswordChange")
    who = signed_in(request)
    if form.get("new", "") != form.get("repeat", ""):
        errors = {"repeat": DIFFERENT}
        return _private(render("people/password.html", request, {"errors": errors, "saved": False}, status=400))
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await change_own_password(session, actor, form.get("current", ""), form.get("new", ""),
                                      who.csrf_token if who else None)
    except InvalidInput as exc:
        errors = {str(exc.details.get("field", "new")): exc.message}
        return _private(render("people/password.html", request, {"errors": errors, "saved": False}, status=400))
    raise web.HTTPSeeOther("/settings/password?saved=1")


async def reset_page(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        try:
            person = await person_of_link(session, token, services.clock.now()) if token else None
        except NotFound:
            person = None
    context: dict[str, Any] = {"token": token, "person": person, "errors": {}, "done": False}
    return _private(render("people/reset.html", request, context, status=200 if person else 404))


async def reset_form(request: web.Request) -> web.Response:
    form = await read_form(request, "PasswordChange")
    token = form.get("token", "")
    services = request.app[SERVICES]
    now = services.clock.now()
    if form.get("new", "") != form.get("repeat", ""):
        async with services.db.session() as session:
            person = await person_of_link(session, token, now)
        context = {"token": token, "person": person, "errors": {"repeat": DIFFERENT}, "done": False}
        return _private(render("people/reset.html", request, context, status=400))
    try:
        async with services.db.transaction() as session:
            user = await reset_with_link(session, token, form.get("new", ""), now)
            user_id = user.id
    except InvalidInput as exc:
        async with services.db.session() as session:
            person = await person_of_link(session, token, now)
        context = {"token": token, "person": person, "errors": {"new": exc.message}, "done": False}
        return _private(render("people/reset.html", request, context, status=400))
    await services.bus.publish(AccessEnded(user_id))  # pages still open elsewhere go to the login page
    return _private(render("people/reset.html", request, {"token": "", "person": None, "errors": {}, "done": True}))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/settings/password", password_page)
    app.router.add_post("/settings/password", change_password_form)
    app.router.add_get("/password/reset", reset_page)
    app.router.add_post("/password/reset", reset_form)
