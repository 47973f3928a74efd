"""The view log for admins: ``GET /admin/views`` with filters (person, customer, dates)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.errors import InvalidInput
from core.records import Role, User
from privacy import ViewFilter, find_views

MAX_PAGE = 1_000_000


def view_filter(request: web.Request) -> ViewFilter:
    query = request.query
    zone = ZoneInfo(request.app[SERVICES].settings.timezone or "UTC")

    def day(name: str) -> datetime | None:
        text = query.get(name, "").strip()
        if not text:
            return None
        try:
            return datetime.combine(date.fromisoformat(text), clock_time(), zone).astimezone(UTC)
        except ValueError:
            raise InvalidInput("a date is written YYYY-MM-DD", {"field": name}) from None

    def number(name: str) -> int | None:
        text = query.get(name, "").strip().lstrip("#")
        return as_int(text, name) if text else None

    page = number("page") or 1
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput("page must be 1 to 1000000", {"field": "page"})
    until = day("to")
    return ViewFilter(user_id=number("user"), customer_id=number("customer"), since=day("from"),
                      until=until + timedelta(days=1) if until else None, page=page)


async def views_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.ADMIN)
    wanted = view_filter(request)
    async with request.app[SERVICES].db.session() as session:
        rows, has_next = await find_views(session, actor, wanted)
        people = (await session.execute(select(User.id, User.display_name).order_by(User.display_name))).all()
    link = request.rel_url
    return render("privacy/views.html", request, {
        "rows": rows, "people": people, "query": request.query,
        "previous": str(link.update_query(page=str(wanted.page - 1))) if wanted.page > 1 else None,
        "next": str(link.update_query(page=str(wanted.page + 1))) if has_next else None,
        "filtered": any(request.query.get(k) for k in ("user", "customer", "from", "to")),
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/views", views_page)
