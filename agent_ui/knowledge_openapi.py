"""The OpenAPI paths and schemas of the templates, articles and help API
(``agent_ui.knowledge_views``), merged into ``agent_ui.openapi``'s document."""

from __future__ import annotations

from typing import Any

from agent_ui.openapi import _STR, _STRS, _TIME, _json, _list, _obj, _op, _path_id, _query, _ref

_KEYWORD = {"type": "object", "required": ["phrase"],
            "properties": {"phrase": _STR, "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 100,
                                                      "default": 1}}}
_TEMPLATE_FIELDS = {
    "name": _STR, "language": {**_STR, "description": "e.g. en, zh, es; empty for any language"},
    "subject": {**_STR, "description": "Jinja2 (sandboxed) with customer, ticket, agent"},
    "body": {**_STR, "description": "Jinja2 (sandboxed); autoescaped when html"},
    "html": {"type": "boolean"}, "keywords": {"type": "array", "items": _KEYWORD},
    "exclusions": {**_STRS, "description": "phrases that veto the template"}, "active": {"type": "boolean"},
}
_ARTICLE_FIELDS = {"title": _STR, "body": _STR, "language": _STR, "tags": _STRS, "published": {"type": "boolean"}}
_IMPORTED = {"type": "object", "properties": {"imported": {"type": "object", "properties": {
    k: {"type": "integer"} for k in ("templates_created", "templates_updated", "articles_created", "articles_updated")
}}}}
_SEARCH = [_query("q", "words to look for (any language, any script)"), _query("lang", "only this language")]

def _deleted(summary: str) -> dict[str, Any]:
    errors = {str(c): {"description": "error", **_json(_ref("Error"))} for c in (401, 403, 404)}
    return {"summary": summary, "responses": {"204": {"description": "deleted"}, **errors}}


SCHEMAS: dict[str, Any] = {
    "TemplateDraft": {"type": "object", "required": ["name"], "properties": _TEMPLATE_FIELDS},
    "Template": {"type": "object", "properties": {
        "id": {"type": "integer"}, **_TEMPLATE_FIELDS, "usage_count": {"type": "integer"},
        "updated_at": _TIME, "updated_by": {"type": "integer", "nullable": True}}},
    "Suggestion": {"type": "object", "properties": {
        "template_id": {"type": "integer"}, "name": _STR, "score": {"type": "number"},
        "matched": {**_STRS, "description": "the keywords found, as written in the template"}}},
    "ArticleDraft": {"type": "object", "required": ["title"], "properties": _ARTICLE_FIELDS},
    "Article": {"type": "object", "properties": {"id": {"type": "integer"}, **_ARTICLE_FIELDS,
                                                 "updated_at": _TIME}},
}

PATHS: dict[str, Any] = {
    "/api/v1/templates": {
        "get": _op("Reply templates", _list("templates", "Template"),
                   params=[_query("active", "true for active templates only")]),
        "post": _op("Create a template (ops)", _obj("template", _ref("Template")), status="201",
                    body=_ref("TemplateDraft"), errors=(401, 403, 409)),
    },
    "/api/v1/templates/{id}": {
        "parameters": [_path_id("id")],
        "get": _op("One template", _obj("template", _ref("Template")), errors=(401, 403, 404)),
        "put": _op("Replace a template (ops)", _obj("template", _ref("Template")), body=_ref("TemplateDraft"),
                   errors=(401, 403, 404, 409)),
        "delete": _deleted("Delete a template (ops)"),
    },
    "/api/v1/templates/suggestions": {
        "post": _op("Rank templates for a sample mail", _list("suggestions", "Suggestion"),
                    body={"type": "object", "properties": {"subject": _STR, "body": _STR, "language": _STR}}),
    },
    "/api/v1/templates/usage": {
        "get": _op("Replies sent from each template, most used first (supervisor, ops)",
                   {"type": "object", "properties": {"usage": {"type": "array", "items": {
                       "type": "object", "properties": {"template_id": {"type": "integer"}, "name": _STR,
                                                        "language": _STR, "uses": {"type": "integer"}}}}}},
                   params=[_query("since", "count uses from this ISO date-time on")]),
    },
    "/api/v1/templates/export": {
        "get": {"summary": "All templates and articles as YAML (ops)", "responses": {
            "200": {"description": "YAML", "content": {"application/yaml": {"schema": _STR}}},
            **{str(c): {"description": "error", **_json(_ref("Error"))} for c in (401, 403)}}},
    },
    "/api/v1/templates/import": {
        "post": {**_op("Import templates and articles from YAML (ops); all or nothing", _IMPORTED),
                 "requestBody": {"required": True, "content": {
                     "application/yaml": {"schema": _STR},
                     "multipart/form-data": {"schema": {"type": "object", "properties": {
                         "file": {"type": "string", "format": "binary"}}}}}}},
    },
    "/api/v1/articles": {
        "get": _op("Search knowledge-base articles (staff see unpublished ones too)",
                   _list("articles", "Article"), params=_SEARCH),
        "post": _op("Create an article (ops)", _obj("article", _ref("Article")), status="201",
                    body=_ref("ArticleDraft")),
    },
    "/api/v1/articles/{id}": {
        "parameters": [_path_id("id")],
        "get": _op("One article", _obj("article", _ref("Article")), errors=(401, 403, 404)),
        "put": _op("Replace an article (ops)", _obj("article", _ref("Article")), body=_ref("ArticleDraft"),
                   errors=(401, 403, 404)),
        "delete": _deleted("Delete an article (ops)"),
    },
    "/api/v1/help/articles": {
        "get": {**_op("Search published articles (public, no sign-in)", _list("articles", "Article"),
                      params=_SEARCH, errors=()), "security": []},
    },
}
