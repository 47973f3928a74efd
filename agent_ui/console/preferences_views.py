"""A person's own preferences: the console's language (the switcher in the top bar)."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import read_form
from agent_ui.base.keys import LOCALIZER, SERVICES
from agent_ui.login.views import safe_next
from core.errors import InvalidInput
from core.users import set_own_language


async def choose_language(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "LanguageChoice")
    wanted = str(form.get("language", "")).strip()
    languages = request.app[LOCALIZER].languages
    if wanted and wanted not in languages:
        raise InvalidInput("no such language", {"language": wanted, "languages": languages})
    async with request.app[SERVICES].db.transaction() as session:
        await set_own_language(session, actor, wanted or None)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", ""))))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/preferences/language", choose_language)
