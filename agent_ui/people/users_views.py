"""The admin's users pages: list, add, edit (roles, skills with levels, extension or PBX
interface, language, working hours), disable or enable, and a one-time password link.

Handlers read the form, call ``core.users`` / ``core.password_changes`` (the same functions the
CLI calls, which check roles, values and audit), and render. A refused value is shown next to
its field (the service names the field). Routes, all admin only:

- ``GET  /admin/users``                          everyone, disabled people too
- ``GET/POST /admin/users/new``                  add a person
- ``GET/POST /admin/users/{id}``                 edit a person
- ``POST /admin/users/{id}/disable|enable``      their sessions, tokens and live sockets end at once
- ``POST /admin/users/{id}/password-link``       a one-time link to set a new password (shown once)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import path_int, read_form
from agent_ui.base.keys import LOCALIZER, SERVICES
from agent_ui.base.rendering import render
from agent_ui.base.vocabulary import N_
from core.errors import Conflict, InvalidInput
from core.password_changes import RESET_LINK_HOURS, issue_reset_link
from core.records import Role, User
from core.users import (
    AccessEnded,
    create_user,
    edit_user,
    set_user_active,
    user_for_admin,
    users_for_admin,
)

ROLES = [r.value for r in Role]
ROLE_NAMES = {"agent": N_("agent"), "supervisor": N_("supervisor"), "ops": N_("ops"), "admin": N_("admin")}
SKILL_ROWS_EMPTY = 3  # blank skill rows under a person's skills, to add some
SKILL_ROWS_MAX = 50
LEVELS = range(1, 10)


def skill_rows(skills: list[Any]) -> list[dict[str, Any]]:
    """``billing:3`` → name and level rows for the form (level 1 when none is written, as routing reads it)."""
    rows = []
    for entry in skills:
        name, _, level = str(entry).partition(":")
        rows.append({"name": name, "level": int(level) if level.isdigit() else 1})
    return rows + [{"name": "", "level": 1}] * SKILL_ROWS_EMPTY


def skills_of(form: dict[str, str]) -> list[str]:
    """The skill rows back into routing's ``name`` / ``name:level`` (rows with no name are skipped)."""
    skills = []
    for n in range(SKILL_ROWS_MAX + SKILL_ROWS_EMPTY):
        name = form.get(f"skill_{n}", "").strip()
        if not name:
            continue
        level = form.get(f"level_{n}", "1").strip()
        skills.append(name if level in ("", "1") else f"{name}:{level}")
    return skills


def changes_of(form: dict[str, str]) -> dict[str, Any]:
    """The person's fields as the form sends them; an empty text field clears it."""
    changes: dict[str, Any] = {
        "display_name": form.get("display_name", ""),
        "roles": [role for role in ROLES if form.get(f"role_{role}")],
        "skills": skills_of(form),
    }
    for field in ("extension", "pbx_interface", "language", "email", "mobile", "working_hours"):
        changes[field] = form.get(field, "").strip() or None
    changes["softphone"] = bool(form.get("softphone"))
    return changes


def form_values(user: User | None, form: dict[str, str] | None = None) -> dict[str, Any]:
    """What the form shows: what was just sent (after a refusal), else the stored person."""
    if form is not None:
        changes = changes_of(form)
        return {**changes, "login": form.get("login", user.login if user else ""), "skill_rows": skill_rows(changes["skills"])}
    if user is None:
        return {"login": "", "display_name": "", "roles": ["agent"], "skill_rows": skill_rows([])}
    return {"login": user.login, "display_name": user.display_name, "roles": list(user.roles or []),
            "skill_rows": skill_rows(list(user.skills or [])), "extension": user.extension,
            "pbx_interface": user.pbx_interface, "language": user.language, "email": user.email,
            "mobile": user.mobile, "working_hours": user.working_hours, "softphone": user.softphone}


def _page(request: web.Request, user: User | None, values: dict[str, Any], errors: dict[str, str] | None = None,
          status: int = 200, link: str | None = None) -> web.Response:
    context = {"person": user, "values": values, "errors": errors or {}, "all_roles": ROLES, "role_names": ROLE_NAMES, "levels": LEVELS,
               "languages": request.app[LOCALIZER].languages, "link": link, "link_hours": RESET_LINK_HOURS}
    response = render("people/user_edit.html", request, context, status=status)
    if link:
        response.headers["Cache-Control"] = "no-store"
    return response


def _refused(exc: InvalidInput | Conflict) -> dict[str, str]:
    return {str(exc.details.get("field") or "form"): exc.message}


async def users_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        people = await users_for_admin(session, actor)
    return render("people/users.html", request, {"people": people, "role_names": ROLE_NAMES})


async def new_user_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.ADMIN)  # the page shows nothing secret, but only admins can use it
    return _page(request, None, form_values(None))


async def new_user_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    form = await read_form(request, "UserDraft")
    changes = changes_of(form)
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            user = await create_user(session, actor, form.get("login", ""), form.get("password", ""),
                                     changes.pop("display_name") or form.get("login", ""), changes.pop("roles"), **changes)
            user_id = user.id
    except (InvalidInput, Conflict) as exc:
        actor.require(Role.ADMIN)  # a non-admin learns nothing from the form's checks
        return _page(request, None, form_values(None, form), _refused(exc), status=exc.status)
    raise web.HTTPSeeOther(f"/admin/users/{user_id}")


async def user_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        user = await user_for_admin(session, actor, path_int(request, "user_id"))
    return _page(request, user, form_values(user))


async def edit_user_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    form = await read_form(request, "UserDraft")
    services = request.app[SERVICES]
    user_id = path_int(request, "user_id")
    try:
        async with services.db.transaction() as session:
            user = await user_for_admin(session, actor, user_id)
            await edit_user(session, actor, user.login, changes_of(form))
    except InvalidInput as exc:
        async with services.db.session() as session:
            user = await user_for_admin(session, actor, user_id)
        return _page(request, user, form_values(user, form), _refused(exc), status=400)
    raise web.HTTPSeeOther(f"/admin/users/{user_id}?saved=1")


async def _set_active(request: web.Request, active: bool) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    user_id = path_int(request, "user_id")
    async with services.db.transaction() as session:
        user = await user_for_admin(session, actor, user_id)
        await set_user_active(session, actor, user.login, active)
    if not active:  # after the commit: their web sessions and tokens are gone, now their open pages
        await services.bus.publish(AccessEnded(user_id))
    raise web.HTTPSeeOther(f"/admin/users/{user_id}")


async def disable_form(request: web.Request) -> web.Response:
    return await _set_active(request, False)


async def enable_form(request: web.Request) -> web.Response:
    return await _set_active(request, True)


async def password_link_form(request: web.Request) -> web.Response:
    """The link is on the answer to this POST only (not stored, not cached)."""
    actor = actor_of(request)
    services = request.app[SERVICES]
    user_id = path_int(request, "user_id")
    async with services.db.transaction() as session:
        user = await user_for_admin(session, actor, user_id)
        token, _row = await issue_reset_link(session, actor, user.login, services.clock.now())
    base = services.settings.web.base_url.rstrip("/") or f"{request.scheme}://{request.host}"
    async with services.db.session() as session:
        user = await user_for_admin(session, actor, user_id)
    return _page(request, user, form_values(user), link=f"{base}/password/reset?token={token}", status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/users", users_page)
    app.router.add_get("/admin/users/new", new_user_page)
    app.router.add_post("/admin/users/new", new_user_form)
    app.router.add_get("/admin/users/{user_id:\\d+}", user_page)
    app.router.add_post("/admin/users/{user_id:\\d+}", edit_user_form)
    app.router.add_post("/admin/users/{user_id:\\d+}/disable", disable_form)
    app.router.add_post("/admin/users/{user_id:\\d+}/enable", enable_form)
    app.router.add_post("/admin/users/{user_id:\\d+}/password-link", password_link_form)
