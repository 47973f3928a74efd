"""The OpenAPI 3 document of ``/api/v1``, written by hand next to the routes it describes.

A test checks that every route under ``/api/v1`` appears here, so the two stay in step.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.api import desk_openapi, knowledge_openapi
from agent_ui.api.openapi_parts import (
    ERROR,
    NSTR,
    NTIME,
    STR,
    STRS,
    TIME,
    as_json,
    list_of,
    obj,
    operation,
    path_id,
    query,
    ref,
)
from agent_ui.base.input_caps import CAPS
from core.records import Category, Channel, Priority, Role, TicketStatus, Tier

_PRIORITIES = [p.name.lower() for p in Priority]

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {"error": {"type": "string", "description": "stable error id"},
                       "message": STR, "details": {"type": "object"}},
    },
    "Ticket": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "integer"}, "tag": {"type": "string", "example": "#1042"},
            "subject": STR, "status": {"type": "string", "enum": [s.value for s in TicketStatus]},
            "priority": {"type": "string", "enum": _PRIORITIES},
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "channel": {"type": "string", "enum": [c.value for c in Channel]}, "queue": STR,
            "assignee_id": {"type": "integer", "nullable": True}, "assignee": NSTR,
            "customer_id": {"type": "integer", "nullable": True}, "customer": NSTR, "customer_tier": NSTR,
            "created_at": TIME, "updated_at": TIME, "first_response_at": NTIME, "due_at": NTIME,
            "complaint_category": {**NSTR, "description": "a complaint category key; null: not a complaint"},
            "complained_at": NTIME,
            "tags": {**STRS, "description": "in GET /api/v1/tickets/{ticket_id} only"},
        },
    },
    "TicketDraft": {
        "type": "object", "required": ["subject"],
        "properties": {"subject": STR, "body": STR, "customer_id": {"type": "integer"},
                       "priority": {"type": "string", "enum": _PRIORITIES},
                       "category": {"type": "string", "enum": [c.value for c in Category]}, "queue": STR,
                       "join": {"type": "boolean", "description": "add to the customer's open ticket instead of a new one"}},
    },
    "TicketPatch": {
        "type": "object", "minProperties": 1,
        "description": "assignee_id other than yourself needs the supervisor role",
        "properties": {"status": {"type": "string", "enum": [s.value for s in TicketStatus]},
                       "priority": {"type": "string", "enum": _PRIORITIES},
                       "category": {"type": "string", "enum": [c.value for c in Category]},
                       "queue": STR, "subject": STR, "assignee_id": {"type": "integer", "nullable": True}},
    },
    "TimelineEntry": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "ticket_id": {"type": "integer"},
                       "kind": {"type": "string", "enum": ["email_in", "email_out", "call", "note", "status_change",
                                                           "assignment", "alert"]},
                       "author_id": {"type": "integer", "nullable": True}, "created_at": TIME,
                       "payload": {"type": "object"}},
    },
    "Customer": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": STR, "tier": {"type": "string", "enum": [t.value for t in Tier]},
                       "language": NSTR, "tags": STRS, "external_id": NSTR, "notes": STR,
                       "tier_reason": {**STR, "description": "why the customer has this tier"},
                       "tier_override": {"type": "string", "nullable": True,
                                         "description": "set when a person chose the tier (it wins over the tier rules)"},
                       "attributes": {"type": "object", "description": "CRM attributes the tier rules test"},
                       "merged_into_id": {"type": "integer", "nullable": True,
                                          "description": "set when merged into another customer"},
                       "phones": {**STRS, "description": "E.164"}, "emails": STRS},
    },
    "CustomerDraft": {
        "type": "object",
        "description": "phone numbers are normalized to E.164; one that cannot be parsed is a 400",
        "properties": {"name": STR, "phones": STRS, "emails": STRS,
                       "tier": {"type": "string", "enum": [t.value for t in Tier]}, "language": NSTR,
                       "tags": STRS, "external_id": NSTR, "notes": STR, "tier_reason": STR,
                       "tier_override": {"type": "string", "enum": [t.value for t in Tier], "nullable": True,
                                         "description": "a person's tier, winning over the tier rules; null clears it "
                                                        "(tier, as before, sets it too)"},
                       "attributes": {"type": "object", "description": "CRM attributes, merged (null removes one)"}},
    },
    "Suggestion": {
        "type": "object",
        "properties": {"template_id": {"type": "integer"}, "name": STR, "score": {"type": "number"}, "matched": STRS},
    },
    "RenderedReply": {
        "type": "object", "properties": {"template_id": {"type": "integer"}, "subject": STR, "body": STR},
    },
    "ReplyDraft": {
        "type": "object", "required": ["body"],
        "description": ("line breaks in subject or to are refused; as multipart/form-data (token in the "
                        "X-CSRF-Token header) the same fields plus files named attachments"),
        "properties": {"subject": STR, "body": STR, "template_id": {"type": "integer", "nullable": True},
                       "to": {**NSTR, "description": "default: the sender of the ticket's last email"},
                       "cc": {**STRS, "description": "copies (a list, or one string of addresses separated by commas)"},
                       "bcc": {**STRS, "description": "blind copies: on the SMTP envelope only, never in a header"},
                       "format": {"type": "string", "enum": ["plain", "markdown"],
                                  "description": "markdown: **bold**, *italic*, lists, > quotes, [links](https://…), "
                                                 "sent as sanitised HTML with a plain-text alternative"}},
    },
    "ComposerDraft": {
        "type": "object",
        "properties": {"to": STR, "cc": STR, "bcc": STR, "subject": STR, "body": STR,
                       "template_id": {"type": "integer", "nullable": True}},
    },
    "TemplateChoice": {
        "type": "object",
        "properties": {"template_id": {"type": "integer"}, "name": STR, "category": STR, "language": STR,
                       "subject": STR, "suggested": {"type": "boolean"}, "score": {"type": "number"},
                       "matched": STRS},
    },
    "ArticleToInsert": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "title": STR, "body": STR, "language": STR,
                       "published": {"type": "boolean"},
                       "link": {**NSTR, "description": "the help centre's public page; null while unpublished"}},
    },
    "NoteDraft": {"type": "object", "required": ["text"], "properties": {"text": STR}},
    "TokenDraft": {"type": "object", "required": ["name"], "properties": {"name": STR}},
    "CallerDraft": {"type": "object", "required": ["number"], "properties": {"number": STR, "name": STR}},
    "QuarantinedMail": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "mailbox": STR, "uidvalidity": {"type": "integer", "nullable": True},
                       "uid": {"type": "integer", "nullable": True}, "size": {"type": "integer"}, "error": STR,
                       "status": {"type": "string", "enum": ["held", "released"]}, "attempts": {"type": "integer"},
                       "created_at": TIME, "resolved_at": NTIME, "raw_preview": STR},
    },
    "IngestResult": {
        "type": "object",
        "properties": {"outcome": {"type": "string", "enum": ["imported", "duplicate", "quarantined"]},
                       "ticket_id": {"type": "integer", "nullable": True}, "entry_id": {"type": "integer", "nullable": True},
                       "quarantine_id": {"type": "integer", "nullable": True}},
    },
    "User": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "login": STR, "display_name": STR,
                       "roles": {"type": "array", "items": {"type": "string", "enum": [r.value for r in Role]}},
                       "extension": NSTR, "pbx_interface": NSTR, "skills": STRS, "language": NSTR,
                       "active": {"type": "boolean"}},
    },
    "UserDraft": {
        "type": "object", "required": ["login", "password", "roles"],
        "properties": {"login": STR, "password": {"type": "string", "minLength": 8}, "display_name": STR,
                       "roles": {"type": "array", "items": {"type": "string", "enum": [r.value for r in Role]}},
                       "extension": STR, "pbx_interface": STR, "email": STR, "mobile": STR,
                       "language": STR, "skills": STRS},
    },
}

_TICKET_FILTERS = [
    query("status", "open (default), all, or one status"),
    query("queue", "queue name"),
    query("assignee", "a user id, or 'none' for unassigned"),
    query("channel", "voice, email, sms or web"),
    query("mine", "1 for tickets assigned to the caller"),
    query("customer_id", "tickets of one customer", {"type": "integer"}),
    query("tag", "tickets carrying this tag"),
    query("limit", "at most this many (1-1000)", {"type": "integer"}),
    query("sort", "priority (default), due, updated, created, number, status, queue or subject; "
                   "'-' in front for the reverse order"),
    query("page", "page number from 0, of 'limit' tickets each", {"type": "integer"}),
    query("cf_{key}", "tickets whose custom field {key} holds this value (e.g. cf_order_ref=A-42)"),
    query("complaint", "complaints of this complaint category key, or 'any' for every complaint"),
    query("complained_since", "became a complaint at or after this moment (ISO 8601 with offset)",
          {"type": "string", "format": "date-time"}),
    query("complained_until", "became a complaint before this moment (ISO 8601 with offset)",
          {"type": "string", "format": "date-time"}),
]

PATHS: dict[str, Any] = {
    "/api/v1/me": {"get": operation("The caller, their roles and (for sessions) the CSRF token",
                              {"type": "object", "properties": {"user": ref("User"), "roles": STRS, "csrf_token": STR}},
                              errors=(401,))},
    "/api/v1/me/tokens": {"post": operation("Create an API token acting as the caller (shown once)",
                                      {"type": "object", "properties": {"token": STR, "name": STR}},
                                      status="201", body=ref("TokenDraft"),
                                      errors=(401,))},
    "/api/v1/tickets": {
        "get": operation("The one queue, filtered", list_of("tickets", "Ticket"), params=_TICKET_FILTERS),
        "post": operation("Open a ticket (routed as a 'web' contact): always new (201), unless join is true and the customer has an open ticket (200)",
                    {"type": "object", "properties": {"ticket": ref("Ticket"), "created": {"type": "boolean"}}},
                    status="201", body=ref("TicketDraft")),
    },
    "/api/v1/tickets/{ticket_id}": {
        "parameters": [path_id("ticket_id")],
        "get": operation("One ticket", obj("ticket", ref("Ticket")), errors=(401, 403, 404)),
        "patch": operation("Change status, priority, category, queue, subject or assignee (all or nothing)",
                     obj("ticket", ref("Ticket")), body=ref("TicketPatch"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/notes": {
        "parameters": [path_id("ticket_id")],
        "post": operation("Add an internal note", obj("entry", ref("TimelineEntry")), status="201",
                    body=ref("NoteDraft"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/tags": {
        "parameters": [path_id("ticket_id")],
        "post": operation("Tag the ticket (on its timeline, audited); the ticket's tags after it", obj("tags", STRS),
                    body={"type": "object", "required": ["tag"], "properties": {"tag": STR}}, errors=(400, 401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/tags/{tag}": {
        "parameters": [path_id("ticket_id"), {"name": "tag", "in": "path", "required": True, "schema": STR}],
        "delete": operation("Take a tag off the ticket; the ticket's tags after it", obj("tags", STRS), errors=(400, 401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/timeline": {
        "parameters": [path_id("ticket_id")],
        "get": operation("The ticket's history, oldest first", list_of("entries", "TimelineEntry"), errors=(401, 403, 404)),
    },
    "/api/v1/search": {
        "get": operation(
            "Search tickets (subject, mail, notes, calls), customers (name, email, phone in any format) or "
            "knowledge articles; every word must match, the last may be half typed; Chinese needs no spaces",
            {"type": "object", "properties": {
                "type": STR, "query": STR, "next_cursor": NSTR,
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "kind": STR, "id": {"type": "integer"},
                    "title": {"type": "array", "items": {"type": "object"}},
                    "snippet": {"type": "array", "items": {"type": "object"},
                                "description": "text pieces; mark=true where the query matched"},
                    "record": {"type": "object"}}}}}},
            params=[query("q", "what to look for"), query("type", "tickets (default), customers or articles"),
                    *[p for p in _TICKET_FILTERS if p["name"] not in ("limit", "mine", "status", "sort", "page")],
                    query("status", "all (default), open, or one status"),
                    query("from", "tickets created on or after (YYYY-MM-DD)"),
                    query("to", "tickets created before (YYYY-MM-DD)"),
                    query("cursor", "next_cursor of the previous page"),
                    query("limit", "at most this many (1-50)", {"type": "integer"})],
            errors=(400, 401, 403)),
    },
    "/api/v1/tickets/{ticket_id}/merge": {
        "parameters": [path_id("ticket_id")],
        "post": operation("Merge this ticket into another: its timeline moves there, it is closed with a pointer, and "
                    "later mail on its thread lands in the survivor (returned)", obj("ticket", ref("Ticket")),
                    body={"type": "object", "required": ["into_id"], "properties": {"into_id": {"type": "integer"}}},
                    errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/split": {
        "parameters": [path_id("ticket_id")],
        "post": operation("Split one message (a timeline entry of this ticket) into a new ticket (returned)",
                    obj("ticket", ref("Ticket")), status="201",
                    body={"type": "object", "required": ["entry_id"], "properties": {"entry_id": {"type": "integer"}}},
                    errors=(401, 403, 404)),
    },
    "/api/v1/customers": {
        "get": operation("Search customers by name, phone or email", list_of("customers", "Customer"),
                   params=[query("q", "text to look for")]),
        "post": operation("Create a customer", obj("customer", ref("Customer")), status="201",
                    body=ref("CustomerDraft"), errors=(401, 403, 409)),
    },
    "/api/v1/customers/{customer_id}": {
        "parameters": [path_id("customer_id")],
        "get": operation("One customer", obj("customer", ref("Customer")), errors=(401, 403, 404)),
        "patch": operation("Change a customer (phones and emails replace the lists)", obj("customer", ref("Customer")),
                     body=ref("CustomerDraft"), errors=(401, 403, 404, 409)),
    },
    "/api/v1/users": {
        "get": operation("The team", list_of("users", "User"), params=[query("all", "1 to include inactive users")]),
        "post": operation("Add a user (admin)", obj("user", ref("User")), status="201", body=ref("UserDraft"),
                    errors=(401, 403, 409)),
    },
    "/api/v1/tickets/{ticket_id}/suggestions": {
        "parameters": [path_id("ticket_id")],
        "get": operation("Reply templates suggested for the ticket's latest email, with the words that matched",
                   list_of("suggestions", "Suggestion"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/reply-preview": {
        "parameters": [path_id("ticket_id")],
        "post": operation("Render a template for this ticket, to edit before sending", ref("RenderedReply"),
                    body={"type": "object", "required": ["template_id"], "properties": {"template_id": {"type": "integer"}}},
                    errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/replies": {
        "parameters": [path_id("ticket_id")],
        "post": operation("Reply to the customer by email (threaded; first response recorded; sent by the outbox)",
                    {"type": "object", "properties": {"entry": ref("TimelineEntry"), "outbox_id": {"type": "integer"},
                                                      "message_id": STR}},
                    status="201", body=ref("ReplyDraft"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/templates": {
        "parameters": [path_id("ticket_id")],
        "get": operation("Every active template matching the words, suggested ones first with the words that matched",
                   list_of("templates", "TemplateChoice"),
                   params=[query("q", "words to look for"),
                           query("fresh", "1: recompute the suggestions from the thread and the current templates")],
                   errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/articles": {
        "parameters": [path_id("ticket_id")],
        "get": operation("Knowledge articles to insert into a reply, with their public links",
                   list_of("articles", "ArticleToInsert"),
                   params=[query("q", "words to look for"), query("lang", "only this language")],
                   errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/reply-draft": {
        "parameters": [path_id("ticket_id")],
        "get": operation("Your reply draft on this ticket (null when none)", obj("draft", ref("ComposerDraft")),
                   errors=(401, 403, 404)),
        "put": operation("Keep your reply draft on this ticket (removed when the reply is sent)",
                   obj("draft", ref("ComposerDraft")), body=ref("ComposerDraft"), errors=(401, 403, 404)),
        "delete": {"summary": "Throw your reply draft on this ticket away",
                   "responses": {"204": {"description": "gone"},
                                 **{str(c): {"description": "error", **as_json(ERROR)} for c in (401, 403, 404)}}},
    },
    "/api/v1/entries/{entry_id}/attachments/{index}": {
        "parameters": [path_id("entry_id"), path_id("index")],
        "get": {"summary": "Download an attachment of a received or sent email (Content-Disposition: attachment)",
                "responses": {"200": {"description": "the file"},
                              **{str(c): {"description": "error", **as_json(ERROR)} for c in (401, 403, 404)}}},
    },
    "/api/v1/mail/quarantine": {
        "get": operation("Mail that could not be imported (ops)", list_of("quarantine", "QuarantinedMail"),
                   params=[query("status", "held (default), released or all")]),
    },
    "/api/v1/mail/quarantine/{quarantine_id}": {
        "parameters": [path_id("quarantine_id")],
        "get": operation("One quarantined mail with its error and source (ops)", obj("message", ref("QuarantinedMail")),
                   errors=(401, 403, 404)),
    },
    "/api/v1/mail/quarantine/{quarantine_id}/retry": {
        "parameters": [path_id("quarantine_id")],
        "post": operation("Import a quarantined mail again (ops); it stays held with the new error if it still fails",
                    {"type": "object", "properties": {"result": ref("IngestResult")}}, errors=(401, 403, 404, 409)),
    },
    "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                     "responses": {"200": {"description": "OpenAPI 3 document"}}}},
}

PATHS.update(knowledge_openapi.PATHS)
SCHEMAS.update(knowledge_openapi.SCHEMAS)
PATHS.update(desk_openapi.PATHS)
SCHEMAS.update(desk_openapi.SCHEMAS)
SCHEMAS["Ticket"]["properties"].update(desk_openapi.TICKET_FIELDS)
SCHEMAS["TicketPatch"]["properties"].update(desk_openapi.TICKET_FIELDS)


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
