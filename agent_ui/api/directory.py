"""REST: customers, users and the caller (``/me``); API tokens are in ``tokens_views``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.contact_masking import shown_customer
from agent_ui.base.identity import actor_of, signed_in
from agent_ui.base.inputs import optional_str, path_int, read_json, str_list
from agent_ui.base.keys import SERVICES
from core.customers import (
    CustomerDraft,
    create_customer,
    customer_dict,
    read_customer,
    search_customers,
    update_customer,
)
from core.records import Tier
from core.users import create_user, list_users, user_dict


async def me(request: web.Request) -> web.Response:
    actor_of(request)
    who = signed_in(request)
    assert who is not None
    body: dict[str, Any] = {"user": user_dict(who.user), "roles": sorted(r.value for r in who.actor.roles)}
    if who.csrf_token:
        body["csrf_token"] = who.csrf_token
    return web.json_response(body)


async def find_customers(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        found = await search_customers(session, actor, request.query.get("q", ""))
        return web.json_response({"customers": [shown_customer(request, customer_dict(c)) for c in found]})


async def new_customer(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "CustomerDraft")
    draft = CustomerDraft(
        name=optional_str(data, "name") or "",
        phones=str_list(data, "phones"),
        emails=str_list(data, "emails"),
        tier=optional_str(data, "tier") or Tier.STANDARD.value,
        language=optional_str(data, "language"),
        tags=str_list(data, "tags"),
        external_id=optional_str(data, "external_id"),
        notes=optional_str(data, "notes") or "",
        tier_reason=optional_str(data, "tier_reason") or "",
        tier_override=optional_str(data, "tier_override"),
        attributes=data.get("attributes") or {},
    )
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        customer = await create_customer(session, actor, draft, services.settings.phone_region, services.clock.now())
        body = {"customer": customer_dict(customer)}
    return web.json_response(body, status=201)


async def get_customer(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        customer = await read_customer(session, actor, path_int(request, "customer_id"))
        return web.json_response({"customer": shown_customer(request, customer_dict(customer))})


async def patch_customer(request: web.Request) -> web.Response:
    actor = actor_of(request)
    customer_id = path_int(request, "customer_id")
    data = await read_json(request, "CustomerDraft")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        customer = await update_customer(session, actor, customer_id, data, services.settings.phone_region,
                                         services.clock.now())
        body = {"customer": customer_dict(customer)}
    return web.json_response(body)


async def users(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        found = await list_users(session, actor, include_inactive=request.query.get("all") == "1")
        return web.json_response({"users": [user_dict(u) for u in found]})


async def new_user(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request, "UserDraft")
    login = optional_str(data, "login") or ""
    password = optional_str(data, "password") or ""
    extras = {k: optional_str(data, k) for k in ("extension", "pbx_interface", "email", "mobile", "language") if data.get(k)}
    if "skills" in data:
        extras["skills"] = str_list(data, "skills")  # type: ignore[assignment]
    async with request.app[SERVICES].db.transaction() as session:
        user = await create_user(
            session,
            actor,
            login,
            password,
            optional_str(data, "display_name") or login,
            str_list(data, "roles"),
            **extras,
        )
        body = {"user": user_dict(user)}
    return web.json_response(body, status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/me", me)
    app.router.add_get("/api/v1/customers", find_customers)
    app.router.add_post("/api/v1/customers", new_customer)
    app.router.add_get("/api/v1/customers/{customer_id}", get_customer)
    app.router.add_patch("/api/v1/customers/{customer_id}", patch_customer)
    app.router.add_get("/api/v1/users", users)
    app.router.add_post("/api/v1/users", new_user)
