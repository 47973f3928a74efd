"""One-click satisfaction: a signed link rates a solved ticket good or bad, then the customer
may add a comment. The link is the credential (``channels.rating_links``): it names its
ticket and rating, expires, and counts once (``routing.ratings``). Origin-checked posts."""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.inputs import form_of, path_int
from agent_ui.base.keys import SERVICES, SIGNING_KEY
from agent_ui.base.rendering import render
from agent_ui.help.views import help_language
from channels.plugin import EMAIL_CHANNEL
from channels.rating_links import RatingLinks
from core.errors import NotFound
from routing.ratings import RATINGS, add_comment, rate_ticket

RATING_LINKS: web.AppKey[RatingLinks] = web.AppKey("help_rating_links", RatingLinks)


def _checked(request: web.Request) -> tuple[int, str]:
    ticket_id, rating = path_int(request, "id"), request.match_info["rating"]
    if rating not in RATINGS:
        raise NotFound("this rating link is unknown or expired")
    request.app[RATING_LINKS].check(ticket_id, rating, request.query.get("expires", ""), request.query.get("sig", ""),
                                    request.app[SERVICES].clock.now())
    return ticket_id, rating


async def rate(request: web.Request) -> web.Response:
    ticket_id, rating = _checked(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        rated = await rate_ticket(services.desk, session, ticket_id, rating)
    await services.desk.publish_pending(session)
    return render("knowledge/help_rated.html", request,
                  {"rated": rated.rating.rating, "new": rated.new, "commented": bool(rated.rating.comment),
                   "action": request.path_qs, **help_language(request)})


async def comment(request: web.Request) -> web.Response:
    ticket_id, _rating = _checked(request)
    form = await form_of(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        row = await add_comment(services.desk, session, ticket_id, str(form.get("comment", ""))[:2_000])
    await services.desk.publish_pending(session)
    return render("knowledge/help_rated.html", request,
                  {"rated": row.rating, "new": False, "commented": True, "action": request.path_qs,
                   **help_language(request)})


async def _ask_for_ratings(app: web.Application) -> None:
    """Runs after the email channel started (cleanup contexts run first): solved tickets' customers
    get these links by mail, signed with the key this page checks."""
    channel = app.get(EMAIL_CHANNEL)
    if channel is not None:
        channel.ask_for_ratings(app[RATING_LINKS], app[SERVICES].settings.web.public_url)


def setup_routes(app: web.Application) -> None:
    app[RATING_LINKS] = RatingLinks(app[SIGNING_KEY])
    app.on_startup.append(_ask_for_ratings)
    app.router.add_get(r"/help/rate/{id:\d+}/{rating}", rate)
    app.router.add_post(r"/help/rate/{id:\d+}/{rating}", comment)
