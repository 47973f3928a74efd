"""The privacy policy page for admins: ``GET/POST /admin/privacy`` — which roles see phone
numbers and emails masked, the retention periods, and the dry-run count of what they purge."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.errors import InvalidInput
from core.records import Role
from privacy import (
    PRIVACY_POLICY,
    PrivacySettings,
    dry_run,
    parse_settings,
    read_settings,
    save_settings,
)

ROLES = ("agent", "supervisor", "ops", "admin")


async def _render(request: web.Request, shown: PrivacySettings | None = None, error: InvalidInput | None = None,
                  saved: bool = False) -> web.Response:
    services = request.app[SERVICES]
    async with services.db.session() as session:
        current = await read_settings(session)
        due = await dry_run(session, current, services.clock.now())
    context: dict[str, Any] = {"settings": shown or current, "due": due, "roles": ROLES, "error": error,
                               "saved": saved}
    return render("privacy/policy.html", request, context, status=error.status if error else 200)


async def policy_page(request: web.Request) -> web.Response:
    actor_of(request).require(Role.ADMIN)
    return await _render(request, saved=request.query.get("saved") == "1")


async def save_policy(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    actor.require(Role.ADMIN)
    form = await read_form(request)
    services = request.app[SERVICES]
    try:
        wanted = parse_settings([r for r in ROLES if form.get(f"mask_{r}")], form.get("ticket_days", ""),
                                form.get("call_days", ""))
    except InvalidInput as exc:
        return await _render(request, error=exc)
    async with services.db.transaction() as session:
        await save_settings(session, actor, wanted, services.clock.now())
    cache = request.app.get(PRIVACY_POLICY)
    if cache is not None:
        await cache.refresh()
    raise web.HTTPSeeOther("/admin/privacy?saved=1")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/privacy", policy_page)
    app.router.add_post("/admin/privacy", save_policy)
