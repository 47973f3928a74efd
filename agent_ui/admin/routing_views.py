"""Routing rules for ops: REST API and pages (rule list and editor, replay, history with restore).

Thin handlers: parse, call the rule store / replay (which validate and check roles), present.

- ``GET  /api/v1/routing/rules``                 the live version and its rules
- ``PUT  /api/v1/routing/rules``                 save ``{rules, based_on, note}`` as the next version (ops)
- ``POST /api/v1/routing/replay``                ``{rules, days}``: what the draft changes (writes nothing)
- ``GET  /api/v1/routing/versions[/{v}]``        history with diffs; one version's rules
- ``POST /api/v1/routing/versions/{v}/restore``  save that version's rules as the next one (ops)
- ``GET  /api/v1/routing/export``, ``POST /api/v1/routing/import``  YAML out / in (ops)
- ``GET  /api/v1/routing/schema``                fields, operators and actions (for the condition builder)
- ``GET  /admin/routing``, ``GET /admin/routing/history`` (``POST`` restore): the pages
- ``POST /api/v1/me/presence``                   the agent's own state (ready, paused, offline)
- ``GET  /api/v1/offers``; ``POST /api/v1/offers/{id}/accept|decline``  work offered to the agent
- ``GET  /api/v1/routing/assignment``            per queue waiting / offered / assigned; agents' load (supervisors)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, optional_str, path_int, read_json, read_text
from agent_ui.base.keys import LOCALIZER, SERVICES
from agent_ui.base.rendering import render, request_language
from core.errors import InvalidInput, Unavailable
from core.records import Category, Role
from routing.keys import ASSIGNMENT, PRESENCE_BOOK
from routing.policy import RulesPolicy
from routing.references import known_names
from routing.replay import replay_draft
from routing.rules import CALL_ACTIONS, FIELDS, PRIORITIES, STRATEGIES
from routing.store import export_yaml, parse_yaml, version_dict
from routing.ticket_listing import ticket_dict


def _policy(request: web.Request) -> RulesPolicy:
    policy = request.app[SERVICES].desk.policy
    if not isinstance(policy, RulesPolicy):
        raise Unavailable("this server routes without editable rules")
    return policy


def _schema() -> dict[str, Any]:
    return {"fields": {name: list(ops) for name, ops in FIELDS.items()}, "priorities": list(PRIORITIES),
            "strategies": list(STRATEGIES), "calls": list(CALL_ACTIONS), "categories": [c.value for c in Category]}


async def _live(request: web.Request) -> dict[str, Any]:
    actor = actor_of(request)
    actor.require(Role.OPS, Role.SUPERVISOR)
    async with request.app[SERVICES].db.session() as session:
        live = await _policy(request).store.live(session)
    return {"version": live.version, "rules": live.rules}


async def rules_api(request: web.Request) -> web.Response:
    return web.json_response(await _live(request))


async def _save_and_use(request: web.Request, save: Any) -> dict[str, Any]:
    """Save in one transaction, then route with it here at once (other processes follow within seconds)."""
    policy = _policy(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        row = await save(session)
        saved = version_dict(row)
    async with services.db.session() as session:
        await policy.refresh(session)
    return saved


async def save_rules_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    based_on = data.get("based_on")
    note = optional_str(data, "note") or ""
    store = _policy(request).store
    saved = await _save_and_use(request, lambda session: store.save(
        session, actor, {"rules": data.get("rules")}, note=note,
        based_on=as_int(based_on, "based_on") if based_on is not None else None))
    return web.json_response(saved)


async def replay_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS, Role.SUPERVISOR)
    data = await read_json(request)
    days = as_int(data.get("days", 7), "days")
    if not 1 <= days <= 90:
        raise InvalidInput("days must be from 1 to 90", {"days": days})
    policy = _policy(request)
    draft = policy.draft({"rules": data.get("rules")})
    services = request.app[SERVICES]
    result = await replay_draft(services.db, draft, policy.engine, days, services.clock.now())
    return web.json_response(result.as_dict())


async def versions_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        rows = await _policy(request).store.history(session, actor)
    return web.json_response({"versions": [version_dict(r) for r in rows]})


async def version_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        row = await _policy(request).store.version(session, actor, path_int(request, "version"))
    return web.json_response(version_dict(row, with_rules=True))


async def restore_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    store = _policy(request).store
    version = path_int(request, "version")
    return web.json_response(await _save_and_use(request, lambda session: store.restore(session, actor, version)))


async def restore_form(request: web.Request) -> web.Response:
    actor = actor_of(request)
    store = _policy(request).store
    version = path_int(request, "version")
    await _save_and_use(request, lambda session: store.restore(session, actor, version))
    raise web.HTTPSeeOther("/admin/routing/history")


async def export_api(request: web.Request) -> web.Response:
    live = await _live(request)
    return web.Response(text=export_yaml(live["version"], live["rules"]), content_type="application/yaml",
                        headers={"Content-Disposition": f'attachment; filename="routing-rules-v{live["version"]}.yaml"'})


async def import_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    rule_set = parse_yaml(await read_text(request))
    store = _policy(request).store
    data = {"rules": rule_set.model_dump(exclude_none=True)["rules"]}
    return web.json_response(await _save_and_use(request, lambda session: store.save(session, actor, data, note="imported YAML")))


async def schema_api(request: web.Request) -> web.Response:
    actor_of(request).require(Role.OPS, Role.SUPERVISOR)
    return web.json_response(_schema())


async def rules_page(request: web.Request) -> web.Response:
    live = await _live(request)
    policy = _policy(request)
    async with request.app[SERVICES].db.session() as session:
        names = await known_names(session, policy.settings)
    return render("routing/rules.html", request, {"data": {**live, "schema": _schema(), "names": names},
                                                  "version": live["version"]})


async def history_page(request: web.Request) -> web.Response:
    words = request.app[LOCALIZER].translations(request_language(request)).gettext
    async with request.app[SERVICES].db.session() as session:
        store = _policy(request).store
        rows = await store.history(session, actor_of(request))
        authors = await store.author_names(session, rows)
        versions = await store.readable_history(session, actor_of(request), words)
    return render("routing/history.html", request, {"versions": versions, "authors": authors})


async def presence_api(request: web.Request) -> web.Response:
    actor = actor_of(request)  # signed in first: an anonymous caller is told so, not about the body
    data = await read_json(request)
    state = optional_str(data, "state") or ""
    await request.app[PRESENCE_BOOK].choose(actor, state, optional_str(data, "reason") or "")
    return web.json_response({"state": state})


async def offers_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        return web.json_response({"offers": await request.app[ASSIGNMENT].my_offers(session, actor)})


async def accept_offer_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        ticket = await request.app[ASSIGNMENT].accept(session, actor, path_int(request, "offer_id"))
        await services.desk.commit_and_publish(session)
        return web.json_response({"ticket": ticket_dict(ticket)})


async def decline_offer_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        await request.app[ASSIGNMENT].decline(session, actor, path_int(request, "offer_id"))
        await services.desk.commit_and_publish(session)
    return web.json_response({"declined": True})


async def assignment_api(request: web.Request) -> web.Response:
    actor = actor_of(request)
    async with request.app[SERVICES].db.session() as session:
        return web.json_response(await request.app[ASSIGNMENT].overview(session, actor))


_OBJ: dict[str, Any] = {"type": "object"}
_RULES = {"type": "array", "items": openapi_parts.ref("RoutingRule")}
_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer"}}
SCHEMAS: dict[str, Any] = {
    "RoutingRule": {"type": "object", "required": ["name", "groups", "actions"], "description":
                    "name, enabled, groups [{mode: all|any, conditions [{field, op, value}]}], actions, stop; "
                    "fields and operators: GET /api/v1/routing/schema"},
    "RoutingVersion": {"type": "object", "properties": {"version": {"type": "integer"}, "author_id": {"type": "integer", "nullable": True},
                                                        "note": openapi_parts.STR, "created_at": openapi_parts.STR, "diff": openapi_parts.STR}},
}
PATHS: dict[str, Any] = {
    "/api/v1/routing/rules": {
        "get": openapi_parts.operation("The live routing rules and their version", {"type": "object", "properties": {
            "version": {"type": "integer"}, "rules": _RULES}}),
        "put": openapi_parts.operation("Save the rules as the next version (ops); refused whole, with the fields named, if any is invalid",
                           openapi_parts.ref("RoutingVersion"), body={"type": "object", "required": ["rules"], "properties": {
                               "rules": _RULES, "based_on": {"type": "integer"}, "note": openapi_parts.STR}}, errors=(400, 401, 403, 409)),
    },
    "/api/v1/routing/replay": {"post": openapi_parts.operation(
        "Replay draft rules over the last days' contacts against the live rules; writes nothing", _OBJ,
        body={"type": "object", "required": ["rules"], "properties": {"rules": _RULES, "days": {"type": "integer"}}})},
    "/api/v1/routing/versions": {"get": openapi_parts.operation("Saved versions, newest first, with readable diffs",
                                                   {"type": "object", "properties": {"versions": {"type": "array", "items": openapi_parts.ref("RoutingVersion")}}})},
    "/api/v1/routing/versions/{version}": {"parameters": [_VERSION], "get": openapi_parts.operation("One version with its rules", _OBJ, errors=(401, 403, 404))},
    "/api/v1/routing/versions/{version}/restore": {"parameters": [_VERSION], "post": openapi_parts.operation(
        "Save that version's rules as the next version (ops)", openapi_parts.ref("RoutingVersion"), errors=(401, 403, 404))},
    "/api/v1/routing/export": {"get": openapi_parts.operation("The live rules as YAML", _OBJ)},
    "/api/v1/routing/import": {"post": openapi_parts.operation("Save a YAML rule file (request body) as the next version (ops)",
                                                  openapi_parts.ref("RoutingVersion"), errors=(400, 401, 403))},
    "/api/v1/routing/schema": {"get": openapi_parts.operation("Condition fields with their operators, and action values", _OBJ)},
    "/api/v1/me/presence": {"post": openapi_parts.operation("Set your own state: ready (offered work), paused or offline", _OBJ,
                                               body={"type": "object", "required": ["state"], "properties": {
                                                   "state": {"type": "string", "enum": ["ready", "paused", "offline"]},
                                                   "reason": openapi_parts.STR}})},
    "/api/v1/offers": {"get": openapi_parts.operation("Work offered to you and not answered yet", _OBJ)},
    "/api/v1/offers/{offer_id}/accept": {"parameters": [openapi_parts.path_id("offer_id")], "post": openapi_parts.operation(
        "Accept an offer: the ticket is yours", _OBJ, errors=(401, 403, 404, 409))},
    "/api/v1/offers/{offer_id}/decline": {"parameters": [openapi_parts.path_id("offer_id")], "post": openapi_parts.operation(
        "Decline an offer: it goes to the next agent", _OBJ, errors=(401, 403, 404, 409))},
    "/api/v1/routing/assignment": {"get": openapi_parts.operation("Per queue: waiting, offered, assigned; agents' state and load (supervisors)", _OBJ)},
}


def setup_routes(app: web.Application) -> None:
    openapi.PATHS.update(PATHS)
    openapi.SCHEMAS.update(SCHEMAS)
    app.router.add_get("/api/v1/routing/rules", rules_api)
    app.router.add_put("/api/v1/routing/rules", save_rules_api)
    app.router.add_post("/api/v1/routing/replay", replay_api)
    app.router.add_get("/api/v1/routing/versions", versions_api)
    app.router.add_get("/api/v1/routing/versions/{version:\\d+}", version_api)
    app.router.add_post("/api/v1/routing/versions/{version:\\d+}/restore", restore_api)
    app.router.add_get("/api/v1/routing/export", export_api)
    app.router.add_post("/api/v1/routing/import", import_api)
    app.router.add_get("/api/v1/routing/schema", schema_api)
    app.router.add_post("/api/v1/me/presence", presence_api)
    app.router.add_get("/api/v1/offers", offers_api)
    app.router.add_post("/api/v1/offers/{offer_id:\\d+}/accept", accept_offer_api)
    app.router.add_post("/api/v1/offers/{offer_id:\\d+}/decline", decline_offer_api)
    app.router.add_get("/api/v1/routing/assignment", assignment_api)
    app.router.add_get("/admin/routing", rules_page)
    app.router.add_get("/admin/routing/history", history_page)
    app.router.add_post("/admin/routing/history/{version:\\d+}/restore", restore_form)
