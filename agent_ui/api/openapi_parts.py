"""The building blocks of the OpenAPI document: references, operations, parameters and the
common schemas. The document (``agent_ui.api.openapi``), the knowledge part of it and the
features that add their own paths all build with these, so none imports another's module
to reach them.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def as_json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def operation(summary: str, ok: dict[str, Any], *, status: str = "200", body: dict[str, Any] | None = None,
              params: list[dict[str, Any]] | None = None, errors: tuple[int, ...] = (401, 403)) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: {"description": "OK", **as_json(ok)}}}
    for code in (400, *errors) if body is not None else errors:
        op["responses"][str(code)] = {"description": "error", **as_json(ERROR)}
    if body is not None:
        op["requestBody"] = {"required": True, **as_json(body)}
    if params:
        op["parameters"] = params
    return op


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def obj(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {key: schema}, "required": [key]}


def list_of(key: str, item: str) -> dict[str, Any]:
    return obj(key, {"type": "array", "items": ref(item)})


STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
STRS = {"type": "array", "items": STR}
TIME = {"type": "string", "format": "date-time"}
NTIME = {**TIME, "nullable": True}
