"""``GET /admin/setup``: the queues and mailboxes as configured, read-only, with their health
(open work per queue; each mailbox's IMAP link and the mail outbox; every other supervised
part) — what ops check first when mail or calls stop arriving. They are changed in the config
file; this page only shows them. Ops and supervisors.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from channels.plugin import EMAIL_CHANNEL
from core.records import Role
from routing.queue_overview import queue_overview


async def setup_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS, Role.SUPERVISOR)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        queues = await queue_overview(session, actor, services.settings.routing.queues)
    health = services.health.snapshot()
    channel = request.app.get(EMAIL_CHANNEL)
    mailboxes: list[dict[str, Any]] = []
    for name, importer in (channel.importers.items() if channel is not None else ()):
        box = importer.mailbox
        mailboxes.append({"name": name, "address": box.address, "server": f"{box.host}:{box.port}",
                          "folder": box.folder, "fetch": box.fetch, "health": health.get(f"mailbox:{name}")})
    others = [c for name, c in health.items() if not name.startswith("mailbox:")]
    return render("setup/overview.html", request, {"queues": queues, "mailboxes": mailboxes, "components": others})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/setup", setup_page)
