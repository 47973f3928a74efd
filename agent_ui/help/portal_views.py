"""The customer's side of the help centre: sign in by a mailed link, "my requests", reply.

The customer's session is its own cookie (``CUSTOMER_COOKIE``) read only here, never by the
staff identity middleware, so it opens no staff page or API. Posts are Origin-checked by the
middleware (as every anonymous post) and, once signed in, carry the customer session's own
CSRF token. The link page asks for one click before it signs in: mail scanners that open
links must not use up a single-use link. Handlers parse, call the channel's services, render.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from agent_ui.base.identity import CsrfRejected
from agent_ui.base.inputs import form_of, path_int
from agent_ui.base.keys import LOCALIZER, SERVICES
from agent_ui.base.rendering import render
from agent_ui.help.rating_views import RATING_LINKS
from agent_ui.help.request_views import REQUEST_GUARD
from agent_ui.help.views import help_language
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.web_request_guard import RequestRefused
from core.errors import Unavailable
from core.records import Customer, TicketStatus
from routing.ratings import RATINGS, rating_of

CUSTOMER_COOKIE = "frontdesk_customer"


def _channel(request: web.Request) -> EmailChannel:
    channel = request.app.get(EMAIL_CHANNEL)
    if channel is None:
        raise Unavailable("the email channel is not running")
    return channel


def _language(request: web.Request, customer: Customer | None = None) -> dict[str, str]:
    """``?lang=`` first, else the customer's own language, else the browser's (the page default)."""
    asked = help_language(request)
    if asked or customer is None or not customer.language:
        return asked
    picked = request.app[LOCALIZER].pick(customer.language)
    return {"lang": picked, "help_lang": picked}


def _suffix(language: dict[str, str]) -> str:
    return f"?lang={language['help_lang']}" if language.get("help_lang") else ""


async def sign_in_form(request: web.Request) -> web.Response:
    return render("knowledge/help_sign_in.html", request, {"sent": False, **help_language(request)})


async def send_link(request: web.Request) -> web.Response:
    form = await form_of(request)
    address = str(form.get("email", ""))[:320]
    language = help_language(request)
    base = request.app[SERVICES].settings.web.base_url or str(request.url.origin())
    try:
        request.app[REQUEST_GUARD].admit(address, request.remote or "", scope="sign-in")
    except RequestRefused:  # a flood of links to one mailbox: none sent, and the page says the same
        pass
    else:
        await _channel(request).customer_sign_in.mail_link(address, base, language.get("lang"))
    # The same page whether or not the address is a customer's: nobody learns who is one.
    return render("knowledge/help_sign_in.html", request, {"sent": True, **language})


async def link_page(request: web.Request) -> web.Response:
    return render("knowledge/help_sign_in_link.html", request,
                  {"token": request.match_info["token"][:200], **help_language(request)})


async def use_link(request: web.Request) -> web.Response:
    cookie = await _channel(request).customer_sign_in.use_link(request.match_info["token"])
    response = web.Response(status=303, headers={"Location": f"/help/requests{_suffix(help_language(request))}"})
    response.set_cookie(CUSTOMER_COOKIE, cookie, httponly=True, samesite="Lax", path="/help",
                        secure=request.app[SERVICES].settings.web.cookie_secure)
    return response


async def _signed_in(request: web.Request, session: Any) -> tuple[Customer, str] | None:
    return await _channel(request).customer_sign_in.customer_of(session, request.cookies.get(CUSTOMER_COOKIE, ""))


def _to_sign_in(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/help/sign-in{_suffix(help_language(request))}")


async def my_requests(request: web.Request) -> web.Response:
    async with request.app[SERVICES].db.session() as session:
        who = await _signed_in(request, session)
        if who is None:
            raise _to_sign_in(request)
        customer, csrf = who
        tickets = await _channel(request).customer_requests.tickets(session, customer)
        return render("knowledge/help_requests.html", request,
                      {"customer": customer, "tickets": tickets, "customer_csrf": csrf, **_language(request, customer)})


async def my_request(request: web.Request) -> web.Response:
    async with request.app[SERVICES].db.session() as session:
        who = await _signed_in(request, session)
        if who is None:
            raise _to_sign_in(request)
        customer, csrf = who
        ticket, messages = await _channel(request).customer_requests.thread(session, customer, path_int(request, "id"))
        rated = await rating_of(session, ticket.id)
        language = _language(request, customer)
        rate_links: dict[str, str] = {}
        if rated is None and ticket.status in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value):
            now = request.app[SERVICES].clock.now()
            suffix = f"&lang={language['help_lang']}" if language.get("help_lang") else ""
            rate_links = {r: request.app[RATING_LINKS].path(ticket.id, r, now) + suffix for r in RATINGS}
        return render("knowledge/help_request_thread.html", request,
                      {"customer": customer, "ticket": ticket, "messages": messages, "customer_csrf": csrf,
                       "rated": rated.rating if rated else None, "rate_links": rate_links, **language})


async def _posted(request: web.Request) -> tuple[Customer, dict[str, str]]:
    """The signed-in customer and the posted text fields, the session's CSRF token checked."""
    form = await form_of(request)
    async with request.app[SERVICES].db.session() as session:
        who = await _signed_in(request, session)
    if who is None:
        raise _to_sign_in(request)
    customer, csrf = who
    sent = str(form.get("customer_csrf", ""))
    if not sent or not hmac.compare_digest(sent, csrf):
        raise CsrfRejected("missing or wrong CSRF token: reload the page and send it again")
    return customer, {k: v for k, v in form.items() if isinstance(v, str)}


async def reply(request: web.Request) -> web.StreamResponse:
    customer, fields = await _posted(request)
    ticket_id = path_int(request, "id")
    await _channel(request).customer_requests.reply(customer.id, ticket_id, fields.get("message", "")[:20_000])
    raise web.HTTPSeeOther(f"/help/requests/{ticket_id}{_suffix(help_language(request))}")


async def sign_out(request: web.Request) -> web.Response:
    await _posted(request)
    await _channel(request).customer_sign_in.sign_out(request.cookies.get(CUSTOMER_COOKIE, ""))
    response = web.Response(status=303, headers={"Location": f"/help{_suffix(help_language(request))}"})
    response.del_cookie(CUSTOMER_COOKIE, path="/help")
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/help/sign-in", sign_in_form)
    app.router.add_post("/help/sign-in", send_link)
    app.router.add_get("/help/sign-in/{token}", link_page)
    app.router.add_post("/help/sign-in/{token}", use_link)
    app.router.add_post("/help/sign-out", sign_out)
    app.router.add_get("/help/requests", my_requests)
    app.router.add_get(r"/help/requests/{id:\d+}", my_request)
    app.router.add_post(r"/help/requests/{id:\d+}/reply", reply)
