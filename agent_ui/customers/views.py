"""The customer pages: the directory with search, a customer's page, create and edit, merge
and its undo, and linking a ticket. Handlers read the form, call the ``core.customer*``
services (which check roles, validate and audit) and redirect or render; a refused value
shows again in the form, with the field it names marked."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, path_int, read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.customers.forms import changes_of, draft_of, ticket_written
from core.crm_links import crm_link
from core.customer_linking import link_ticket
from core.customer_merging import merge_customers, unmerge_customer
from core.customer_profile import customer_profile
from core.customers import (
    create_customer,
    customer_dict,
    list_customers,
    read_customer,
    update_customer,
)
from core.errors import Conflict, InvalidInput
from core.records import Tier

PAGE = 50


async def directory(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    text = request.query.get("q", "")[:200]
    page = max(as_int(request.query.get("page", "1") or "1", "page"), 1)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        found = await list_customers(session, actor, text, limit=PAGE + 1, offset=(page - 1) * PAGE,
                                     region=services.settings.phone_region)
    return render("customers/list.html", request, {
        "customers": found[:PAGE], "q": text, "page": page, "more": len(found) > PAGE})


def _form(request: web.Request, values: dict[str, Any], *, customer_id: int | None = None,
          error: InvalidInput | Conflict | None = None) -> web.StreamResponse:
    return render("customers/form.html", request, {
        "values": values, "customer_id": customer_id, "tiers": [t.value for t in Tier],
        "error": error, "error_field": (error.details.get("field") if error else None)}, status=400 if error else 200)


def _joined(customer: dict[str, Any]) -> dict[str, Any]:
    return {**customer, "phones": "\n".join(customer["phones"]), "emails": "\n".join(customer["emails"]),
            "tags": ", ".join(customer["tags"])}


async def new_form(request: web.Request) -> web.StreamResponse:
    actor_of(request)
    return _form(request, {"tier": "", "phones": request.query.get("phone", "")[:64]})


async def create(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    form = await read_form(request, "CustomerDraft")
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            customer = await create_customer(session, actor, draft_of(form), services.settings.phone_region,
                                             services.clock.now())
    except (InvalidInput, Conflict) as exc:
        return _form(request, form, error=exc)
    raise web.HTTPSeeOther(f"/customers/{customer.id}")


async def customer_page(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        profile = await customer_profile(session, actor, path_int(request, "customer_id"))
    customer = profile.customer
    crm_url = crm_link(services.settings.web.crm_url, customer.external_id,
                       customer.phones[0].e164 if customer.phones else "")
    return render("customers/page.html", request, {"p": profile, "now": services.clock.now(), "crm_url": crm_url})


async def edit_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    async with request.app[SERVICES].db.session() as session:
        customer = customer_dict(await read_customer(session, actor, customer_id))
    # The select shows a person's tier; "given by the rules" when none was set by hand.
    return _form(request, {**_joined(customer), "tier": customer["tier_override"] or ""}, customer_id=customer_id)


async def save(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    form = await read_form(request, "CustomerDraft")
    services = request.app[SERVICES]
    try:
        async with services.db.transaction() as session:
            await update_customer(session, actor, customer_id, changes_of(form), services.settings.phone_region,
                                  services.clock.now())
    except (InvalidInput, Conflict) as exc:
        return _form(request, form, customer_id=customer_id, error=exc)
    raise web.HTTPSeeOther(f"/customers/{customer_id}")


async def clear_tier(request: web.Request) -> web.StreamResponse:
    """Back to the tier the rules give: the person's override is cleared (and audited)."""
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    await read_form(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await update_customer(session, actor, customer_id, {"tier_override": None}, services.settings.phone_region,
                              services.clock.now())
    raise web.HTTPSeeOther(f"/customers/{customer_id}")


async def merge(request: web.Request) -> web.StreamResponse:
    """Merge the chosen customer (``other_id``) into this one."""
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    form = await read_form(request, "CustomerMerge")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await merge_customers(session, actor, customer_id, as_int(form.get("other_id", ""), "other_id"),
                              services.clock.now())
    raise web.HTTPSeeOther(f"/customers/{customer_id}")


async def unmerge(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await unmerge_customer(session, actor, customer_id, services.clock.now())
    raise web.HTTPSeeOther(f"/customers/{customer_id}")


async def link(request: web.Request) -> web.StreamResponse:
    """Put a ticket on this customer: from the customer's page (the ticket's number) or from the
    ticket's page (``ticket_id``, then back to the ticket)."""
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    form = await read_form(request, "CustomerLink")
    ticket_id = as_int(form["ticket_id"], "ticket_id") if form.get("ticket_id") else ticket_written(form.get("ticket", ""))
    async with request.app[SERVICES].db.transaction() as session:
        await link_ticket(session, actor, ticket_id, customer_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}" if form.get("back") == "ticket" else f"/customers/{customer_id}")


async def link_from_ticket(request: web.Request) -> web.StreamResponse:
    """The ticket page's "link to customer": the customer picked by search (``customer_id``)."""
    actor = actor_of(request)
    form = await read_form(request, "CustomerLink")
    ticket_id = as_int(form.get("ticket_id", ""), "ticket_id")
    customer_id = as_int(form.get("customer_id", ""), "customer_id")
    async with request.app[SERVICES].db.transaction() as session:
        await link_ticket(session, actor, ticket_id, customer_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/customers", directory)
    app.router.add_post("/customers", create)
    app.router.add_get("/customers/new", new_form)
    app.router.add_post("/customers/link-ticket", link_from_ticket)
    app.router.add_get(r"/customers/{customer_id:\d+}", customer_page)
    app.router.add_post(r"/customers/{customer_id:\d+}", save)
    app.router.add_get(r"/customers/{customer_id:\d+}/edit", edit_form)
    app.router.add_post(r"/customers/{customer_id:\d+}/tier/clear", clear_tier)
    app.router.add_post(r"/customers/{customer_id:\d+}/merge", merge)
    app.router.add_post(r"/customers/{customer_id:\d+}/unmerge", unmerge)
    app.router.add_post(r"/customers/{customer_id:\d+}/tickets", link)
