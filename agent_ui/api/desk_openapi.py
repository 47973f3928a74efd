"""The OpenAPI paths and schemas of the desk's tools — custom fields, macros, bulk edits, saved
views — merged into ``agent_ui.api.openapi``'s document."""

from __future__ import annotations

from typing import Any

from agent_ui.api.openapi_parts import STR, STRS, list_of, obj, operation, path_id, ref

_ID = {"type": "integer"}
_BOOL = {"type": "boolean"}
_VALUES = {"type": "object", "additionalProperties": {"type": "string"},
           "description": "custom field values by field key (number as 12.5, date as YYYY-MM-DD)"}
_ACTIONS = {
    "status": STR, "queue": STR,
    "assignee": {**STR, "description": "me, none (unassign) or a user id; empty for no change"},
    "add_tags": STRS, "remove_tags": STRS,
}
_CHANGE = {"type": "object", "properties": {"field": STR, "from": {}, "to": {}, "op": STR}}


def _deleted(summary: str) -> dict[str, Any]:
    return operation(summary, {"type": "object", "properties": {"deleted": _BOOL}}, errors=(401, 403, 404))


SCHEMAS: dict[str, Any] = {
    "CustomField": {"type": "object", "properties": {
        "id": _ID, "key": STR, "name": STR, "kind": {"type": "string", "enum": ["text", "number", "choice", "date"]},
        "choices": STRS, "required": _BOOL, "position": _ID}},
    "CustomFieldDraft": {"type": "object", "required": ["name"], "properties": {
        "key": {**STR, "description": "lower-case letters, digits, _; fixed once made"},
        "name": STR, "kind": {"type": "string", "enum": ["text", "number", "choice", "date"]},
        "choices": STRS, "required": _BOOL, "position": _ID}},
    "Macro": {"type": "object", "properties": {"id": _ID, "name": STR, "shared": _BOOL,
                                               "owner_id": {**_ID, "nullable": True}, **_ACTIONS,
                                               "template_id": {**_ID, "nullable": True}}},
    "MacroDraft": {"type": "object", "required": ["name"], "properties": {
        "name": STR, **_ACTIONS, "template_id": {**_ID, "nullable": True},
        "shared": {**_BOOL, "description": "for everyone (admins and ops only)"}}},
    "MacroOutcome": {"type": "object", "properties": {
        "macro_id": _ID, "ticket_id": _ID, "changes": {"type": "array", "items": _CHANGE},
        "template_id": {**_ID, "nullable": True, "description": "the reply template to put in the composer"},
        "ticket": ref("Ticket")}},
    "TicketBulk": {"type": "object", "required": ["ticket_ids"], "properties": {
        "ticket_ids": {"type": "array", "items": _ID, "maxItems": 500}, **_ACTIONS}},
    "BulkResult": {"type": "object", "properties": {
        "results": {"type": "array", "items": {"type": "object", "properties": {
            "ticket_id": _ID, "ok": _BOOL, "changes": {"type": "array", "items": _CHANGE},
            "error": {**STR, "nullable": True}, "error_id": {**STR, "nullable": True}}}},
        "changed": _ID, "failed": _ID}},
    "SavedView": {"type": "object", "properties": {
        "id": _ID, "name": STR, "shared": _BOOL, "owner_id": {**_ID, "nullable": True},
        "query": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "SavedViewDraft": {"type": "object", "required": ["name"], "properties": {
        "name": STR, "query": {"description": "the queue's filters (as GET /api/v1/tickets takes them), "
                                              "an object or a query string"},
        "shared": {**_BOOL, "description": "for every agent (admins and ops only)"}}},
}

TICKET_FIELDS = {"fields": _VALUES}

PATHS: dict[str, Any] = {
    "/api/v1/fields": {
        "get": operation("Custom ticket fields", list_of("fields", "CustomField")),
        "post": operation("Define a custom field (admin or ops)", ref("CustomField"), status="201",
                          body=ref("CustomFieldDraft")),
    },
    "/api/v1/fields/{field_id}": {
        "parameters": [path_id("field_id")],
        "patch": operation("Change a field's name, choices, required, position (admin or ops)", ref("CustomField"),
                           body=ref("CustomFieldDraft"), errors=(401, 403, 404)),
        "delete": _deleted("Delete a field and its values (admin or ops)"),
    },
    "/api/v1/macros": {
        "get": operation("The shared macros and the caller's own", list_of("macros", "Macro")),
        "post": operation("Make a macro (shared: admin or ops)", ref("Macro"), status="201", body=ref("MacroDraft")),
    },
    "/api/v1/macros/{macro_id}": {
        "parameters": [path_id("macro_id")],
        "patch": operation("Change a macro", ref("Macro"), body=ref("MacroDraft"), errors=(401, 403, 404)),
        "delete": _deleted("Delete a macro"),
    },
    "/api/v1/tickets/{ticket_id}/macros/{macro_id}/preview": {
        "parameters": [path_id("ticket_id"), path_id("macro_id")],
        "post": operation("What applying the macro would change (nothing is written)", ref("MacroOutcome"),
                          errors=(401, 403, 404)),
    },
    "/api/v1/tickets/{ticket_id}/macros/{macro_id}/apply": {
        "parameters": [path_id("ticket_id"), path_id("macro_id")],
        "post": operation("Apply the macro (each change audited, on the timeline); its template is returned, not sent",
                          ref("MacroOutcome"), errors=(401, 403, 404)),
    },
    "/api/v1/tickets/bulk": {
        "post": operation("Change many tickets: each on its own, failures reported per ticket", ref("BulkResult"),
                          body=ref("TicketBulk")),
    },
    "/api/v1/views": {
        "get": operation("Saved queue views: shared ones and the caller's own", list_of("views", "SavedView")),
        "post": operation("Save a view", ref("SavedView"), status="201", body=ref("SavedViewDraft")),
    },
    "/api/v1/views/{view_id}": {
        "parameters": [path_id("view_id")],
        "patch": operation("Rename a view", ref("SavedView"), body=obj("name", STR), errors=(401, 403, 404)),
        "delete": _deleted("Delete a view"),
    },
}

__all__ = ["PATHS", "SCHEMAS", "TICKET_FIELDS"]
