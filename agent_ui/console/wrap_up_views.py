"""The agent's wrap-up of a call from the console's phone panel (``routing.wrap_up``):
outcome, complaint category, product and note, posted once the call has ended."""

from __future__ import annotations

from aiohttp import web

from agent_ui.api import openapi, openapi_parts
from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import optional_str, read_json
from agent_ui.base.keys import SERVICES
from routing.wrap_up import OUTCOMES, WrapUp, wrap_up_call


async def wrap_up(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    wrap = WrapUp(outcome=(optional_str(data, "outcome") or "").strip(), category=optional_str(data, "category") or "",
                  note=optional_str(data, "note") or "", product=optional_str(data, "product") or "")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        entry = await wrap_up_call(services.desk, session, actor, request.match_info["linkedid"], wrap)
        body = {"ticket_id": entry.ticket_id, "entry_id": entry.id}
    await services.desk.publish_pending(session)
    return web.json_response(body, status=201)


def _document() -> None:
    linkedid = {"name": "linkedid", "in": "path", "required": True, "schema": {"type": "string"}}
    wrap = {"type": "object", "required": ["outcome"], "properties": {
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "category": {"type": "string", "description": "a complaint category key; empty: no complaint"},
        "product": {"type": "string", "maxLength": 60, "description": "kept as a product: tag"},
        "note": {"type": "string", "maxLength": 2000}}}
    done = {"type": "object", "properties": {"ticket_id": {"type": "integer"}, "entry_id": {"type": "integer"}}}
    openapi.PATHS["/api/v1/cti/calls/{linkedid}/wrap-up"] = {"post": openapi_parts.operation(
        "Wrap up an ended call: outcome, complaint category, product and note on the call's ticket (once)",
        done, status="201", body=wrap, params=[linkedid], errors=(401, 403, 404, 409))}


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/cti/calls/{linkedid}/wrap-up", wrap_up)
    _document()
