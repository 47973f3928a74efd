"""The OpenAPI 3 document of ``/api/v1``, written by hand next to the routes it describes.

A test checks that every route under ``/api/v1`` appears here, so the two stay in step.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.input_caps import CAPS
from core.records import Category, Channel, Priority, Role, TicketStatus, Tier

_ERROR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: dict[str, Any], *, status: str = "200", body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, errors: tuple[int, ...] = (401, 403)) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: {"description": "OK", **_json(ok)}}}
    for code in (400, *errors) if body is not None else errors:
        op["responses"][str(code)] = {"description": "error", **_json(_ERROR)}
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _obj(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {key: schema}, "required": [key]}


def _list(key: str, item: str) -> dict[str, Any]:
    return _obj(key, {"type": "array", "items": _ref(item)})


_STR = {"type": "string"}
_NSTR = {"type": "string", "nullable": True}
_STRS = {"type": "array", "items": _STR}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {**_TIME, "nullable": True}
_PRIORITIES = [p.name.lower() for p in Priority]

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {"error": {"type": "string", "description": "stable error id"},
                       "message": _STR, "details": {"type": "object"}},
    },
    "Ticket": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "integer"}, "tag": {"type": "string", "example": "#1042"},
            "subject": _STR, "status": {"type": "string", "enum": [s.value for s in TicketStatus]},
            "priority": {"type": "string", "enum": _PRIORITIES},
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "channel": {"type": "string", "enum": [c.value for c in Channel]}, "queue": _STR,
            "assignee_id": {"type": "integer", "nullable": True}, "assignee": _NSTR,
            "customer_id": {"type": "integer", "nullable": True}, "customer": _NSTR, "customer_tier": _NSTR,
            "created_at": _TIME, "updated_at": _TIME, "first_response_at": _NTIME, "due_at": _NTIME,
            "tags": {**_STRS, "description": "in GET /api/v1/tickets/{ticket_id} only"},
        },
    },
    "TicketDraft": {
        "type": "object", "required": ["subject"],
        "properties": {"subject": _STR, "body": _STR, "customer_id": {"type": "integer"},
                       "priority": {"type": "string", "enum": _PRIORITIES},
                       "category": {"type": "string", "enum": [c.value for c in Category]}, "queue": _STR,
                       "join": {"type": "boolean", "description": "add to the customer's open ticket instead of a new one"}},
    },
    "TicketPatch": {
        "type": "object", "minProperties": 1,
        "description": "assignee_id other than yourself needs the supervisor role",
        "properties": {"status": {"type": "string", "enum": [s.value for s in TicketStatus]},
                       "priority": {"type": "string", "enum": _PRIORITIES},
                       "category": {"type": "string", "enum": [c.value for c in Category]},
                       "queue": _STR, "subject": _STR, "assignee_id": {"type": "integer", "nullable": True}},
    },
    "TimelineEntry": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "ticket_id": {"type": "integer"},
                       "kind": {"type": "string", "enum": ["email_in", "email_out", "call", "note", "status_change",
                                                           "assignment", "alert"]},
                       "author_id": {"type": "integer", "nullable": True}, "created_at": _TIME,
                       "payload": {"type": "object"}},
    },
    "Customer": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": _STR, "tier": {"type": "string", "enum": [t.value for t in Tier]},
                       "language": _NSTR, "tags": _STRS, "external_id": _NSTR, "notes": _STR,
                       "phones": {**_STRS, "description": "E.164"}, "emails": _STRS},
    },
    "CustomerDraft": {
        "type": "object",
        "description": "phone numbers are normalized to E.164; one that cannot be parsed is a 400",
        "properties": {"name": _STR, "phones": _STRS, "emails": _STRS,
                       "tier": {"type": "string", "enum": [t.value for t in Tier]}, "language": _NSTR,
                       "tags": _STRS, "external_id": _NSTR, "notes": _STR},
    },
    "Suggestion": {
        "type": "object",
        "properties": {"template_id": {"type": "integer"}, "name": _STR, "score": {"type": "number"}, "matched": _STRS},
    },
    "RenderedReply": {
        "type": "object", "properties": {"template_id": {"type": "integer"}, "subject": _STR, "body": _STR},
    },
    "ReplyDraft": {
        "type": "object", "required": ["body"],
        "description": "line breaks in subject or to are refused",
        "properties": {"subject": _STR, "body": _STR, "template_id": {"type": "integer", "nullable": True},
                       "to": {**_NSTR, "description": "default: the sender of the ticket's last email"}},
    },
    "NoteDraft": {"type": "object", "required": ["text"], "properties": {"text": _STR}},
    "TokenDraft": {"type": "object", "required": ["name"], "properties": {"name": _STR}},
    "CallerDraft": {"type": "object", "required": ["number"], "properties": {"number": _STR, "name": _STR}},
    "QuarantinedMail": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "mailbox": _STR, "uidvalidity": {"type": "integer", "nullable": True},
                       "uid": {"type": "integer", "nullable": True}, "size": {"type": "integer"}, "error": _STR,
                       "status": {"type": "string", "enum": ["held", "released"]}, "attempts": {"type": "integer"},
                       "created_at": _TIME, "resolved_at": _NTIME, "raw_preview": _STR},
    },
    "IngestResult": {
        "type": "object",
        "properties": {"outcome": {"type": "string", "enum": ["imported", "duplicate", "quarantined"]},
                       "ticket_id": {"type": "integer", "nullable": True}, "entry_id": {"type": "integer", "nullable": True},
                       "quarantine_id": {"type": "integer", "nullable": True}},
    },
    "User": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "login": _STR, "display_name": _STR,
                       "roles": {"type": "array", "items": {"type": "string", "enum": [r.value for r in Role]}},
                       "extension": _NSTR, "pbx_interface": _NSTR, "skills": _STRS, "language": _NSTR,
                       "active": {"type": "boolean"}},
    },
    "UserDraft": {
        "type": "object", "required": ["login", "password", "roles"],
        "properties": {"login": _STR, "password": {"type": "string", "minLength": 8}, "display_name": _STR,
                       "roles": {"type": "array", "items": {"type": "string", "enum": [r.value for r in Role]}},
                       "extension": _STR, "pbx_interface": _STR, "email": _STR, "mobile": _STR,
                       "language": _STR, "skills": _STRS},
    },
}

_TICKET_FILTERS = [
    _query("status", "open (default), all, or one status"),
    _query("queue", "queue name"),
    _query("assignee", "a user id, or 'none' for unassigned"),
    _query("channel", "voice, email, sms or web"),
    _query("mine", "1 for tickets assigned to the caller"),
    _query("customer_id", "tickets of one customer", {"type": "integer"}),
    _query("tag", "tickets carrying this tag"),
    _query("limit", "at most this many (1-1000)", {"type": "integer"}),
    _query("sort", "priority (default), due, updated, created, number, status, queue or subject; "
                   "'-' in front for the reverse order"),
    _query("page", "page number from 0, of 'limit' tickets each", {"type": "integer"}),
]

PATHS: dict[str, Any] = {
    "/api/v1/me": {"get": _op("The caller, their roles and (for sessions) the CSRF token",
                              {"type": "object", "properties": {"user": _ref("User"), "roles": _STRS, "csrf_token": _STR}},
                              errors=(401,))},
    "/api/v1/me/tokens": {"post": _op("Create an API token acting as the caller (shown once)",
                                      {"type": "object", "properties": {"token": _STR, "name": _STR}},
                                      status="201", body=_ref("TokenDraft"),
                                      errors=(401,))},
    "/api/v1/tickets": {
        "get": _op("The one queue, filtered", _list("tickets", "Ticket"), params=_TICKET_FILTERS),
        "post": _op("Open a ticket (routed as a 'web' contact): always new (201), unless join is true and the customer has an open ticket (200)",
                    {"type": "object", "properties": {"ticket": _ref("Ticket"), "created": {"type": "boolean"}}},
                    status="201", body=_ref("TicketDraft")),
    },
    "/api/v1/tickets/{ticket_id}": {
        "parameters": [_path_id("ticket_id")],
        "get": _op("One ticket", _obj("ticket", _ref("Ticket")), errors=(401, 403, 404)),
        "patch": _op("Change status, priority, category, queue, subject or assignee (all or nothing)",
                     _obj("ticket", _ref("Ticket")), body=_ref("TicketPatch"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/notes": {
        "parameters": [_path_id("ticket_id")],
        "post": _op("Add an internal note", _obj("entry", _ref("TimelineEntry")), status="201",
                    body=_ref("NoteDraft"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/tags": {
        "parameters": [_path_id("ticket_id")],
        "post": _op("Tag the ticket (on its timeline, audited); the ticket's tags after it", _obj("tags", _STRS),
                    body={"type": "object", "required": ["tag"], "properties": {"tag": _STR}}, errors=(400, 401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/tags/{tag}": {
        "parameters": [_path_id("ticket_id"), {"name": "tag", "in": "path", "required": True, "schema": _STR}],
        "delete": _op("Take a tag off the ticket; the ticket's tags after it", _obj("tags", _STRS), errors=(400, 401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/timeline": {
        "parameters": [_path_id("ticket_id")],
        "get": _op("The ticket's history, oldest first", _list("entries", "TimelineEntry"), errors=(401, 403, 404)),
    },
    "/api/v1/search": {
        "get": _op(
            "Search tickets (subject, mail, notes, calls), customers (name, email, phone in any format) or "
            "knowledge articles; every word must match, the last may be half typed; Chinese needs no spaces",
            {"type": "object", "properties": {
                "type": _STR, "query": _STR, "next_cursor": _NSTR,
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "kind": _STR, "id": {"type": "integer"},
                    "title": {"type": "array", "items": {"type": "object"}},
                    "snippet": {"type": "array", "items": {"type": "object"},
                                "description": "text pieces; mark=true where the query matched"},
                    "record": {"type": "object"}}}}}},
            params=[_query("q", "what to look for"), _query("type", "tickets (default), customers or articles"),
                    *[p for p in _TICKET_FILTERS if p["name"] not in ("limit", "mine", "status", "sort", "page")],
                    _query("status", "all (default), open, or one status"),
                    _query("from", "tickets created on or after (YYYY-MM-DD)"),
                    _query("to", "tickets created before (YYYY-MM-DD)"),
                    _query("cursor", "next_cursor of the previous page"),
                    _query("limit", "at most this many (1-50)", {"type": "integer"})],
            errors=(400, 401, 403)),
    },
    "/api/v1/tickets/{ticket_id}/merge": {
        "parameters": [_path_id("ticket_id")],
        "post": _op("Merge this ticket into another: its timeline moves there, it is closed with a pointer, and "
                    "later mail on its thread lands in the survivor (returned)", _obj("ticket", _ref("Ticket")),
                    body={"type": "object", "required": ["into_id"], "properties": {"into_id": {"type": "integer"}}},
                    errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/split": {
        "parameters": [_path_id("ticket_id")],
        "post": _op("Split one message (a timeline entry of this ticket) into a new ticket (returned)",
                    _obj("ticket", _ref("Ticket")), status="201",
                    body={"type": "object", "required": ["entry_id"], "properties": {"entry_id": {"type": "integer"}}},
                    errors=(401, 403, 404)),
    },
    "/api/v1/customers": {
        "get": _op("Search customers by name, phone or email", _list("customers", "Customer"),
                   params=[_query("q", "text to look for")]),
        "post": _op("Create a customer", _obj("customer", _ref("Customer")), status="201",
                    body=_ref("CustomerDraft"), errors=(401, 403, 409)),
    },
    "/api/v1/customers/{customer_id}": {
        "parameters": [_path_id("customer_id")],
        "get": _op("One customer", _obj("customer", _ref("Customer")), errors=(401, 403, 404)),
        "patch": _op("Change a customer (phones and emails replace the lists)", _obj("customer", _ref("Customer")),
                     body=_ref("CustomerDraft"), errors=(401, 403, 404, 409)),
    },
    "/api/v1/users": {
        "get": _op("The team", _list("users", "User"), params=[_query("all", "1 to include inactive users")]),
        "post": _op("Add a user (admin)", _obj("user", _ref("User")), status="201", body=_ref("UserDraft"),
                    errors=(401, 403, 409)),
    },
    "/api/v1/tickets/{ticket_id}/suggestions": {
        "parameters": [_path_id("ticket_id")],
        "get": _op("Reply templates suggested for the ticket's latest email, with the words that matched",
                   _list("suggestions", "Suggestion"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/reply-preview": {
        "parameters": [_path_id("ticket_id")],
        "post": _op("Render a template for this ticket, to edit before sending", _ref("RenderedReply"),
                    body={"type": "object", "required": ["template_id"], "properties": {"template_id": {"type": "integer"}}},
                    errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/replies": {
        "parameters": [_path_id("ticket_id")],
        "post": _op("Reply to the customer by email (threaded; first response recorded; sent by the outbox)",
                    {"type": "object", "properties": {"entry": _ref("TimelineEntry"), "outbox_id": {"type": "integer"},
                                                      "message_id": _STR}},
                    status="201", body=_ref("ReplyDraft"), errors=(401, 403, 404)),
    },
    "/api/v1/entries/{entry_id}/attachments/{index}": {
        "parameters": [_path_id("entry_id"), _path_id("index")],
        "get": {"summary": "Download an attachment of a received email (Content-Disposition: attachment)",
                "responses": {"200": {"description": "the file"},
                              **{str(c): {"description": "error", **_json(_ERROR)} for c in (401, 403, 404)}}},
    },
    "/api/v1/mail/quarantine": {
        "get": _op("Mail that could not be imported (ops)", _list("quarantine", "QuarantinedMail"),
                   params=[_query("status", "held (default), released or all")]),
    },
    "/api/v1/mail/quarantine/{quarantine_id}": {
        "parameters": [_path_id("quarantine_id")],
        "get": _op("One quarantined mail with its error and source (ops)", _obj("message", _ref("QuarantinedMail")),
                   errors=(401, 403, 404)),
    },
    "/api/v1/mail/quarantine/{quarantine_id}/retry": {
        "parameters": [_path_id("quarantine_id")],
        "post": _op("Import a quarantined mail again (ops); it stays held with the new error if it still fails",
                    {"type": "object", "properties": {"result": _ref("IngestResult")}}, errors=(401, 403, 404, 409)),
    },
    "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                     "responses": {"200": {"description": "OpenAPI 3 document"}}}},
}

from agent_ui import knowledge_openapi  # noqa: E402 (it builds on the helpers above)

PATHS.update(knowledge_openapi.PATHS)
SCHEMAS.update(knowledge_openapi.SCHEMAS)


def _publish_caps(schemas: dict[str, Any]) -> None:
    """``maxLength`` from ``agent_ui.base.input_caps``, the numbers the server enforces."""
    for name, caps in CAPS.items():
        properties = schemas.get(name, {}).get("properties", {})
        for field, cap in caps.items():
            prop = properties.get(field)
            if prop is None:
                continue
            if prop.get("type") == "array":
                properties[field] = {**prop, "items": {**prop["items"], "maxLength": cap}}
            else:
                properties[field] = {**prop, "maxLength": cap}


_publish_caps(SCHEMAS)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Frontdesk API", "version": "1",
             "description": "Errors are JSON {error, message, details}. Authenticate with a session cookie "
                            "(state changes need the X-CSRF-Token header) or 'Authorization: Bearer fd_...'."},
    "servers": [{"url": "/"}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "token": {"type": "http", "scheme": "bearer", "description": "an API token (fd_...)"},
            "session": {"type": "apiKey", "in": "cookie", "name": "frontdesk_session"},
        },
    },
    "security": [{"token": []}, {"session": []}],
}


async def openapi_document(_request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_document)
