"""The OpenAPI paths and schemas of the templates, articles and help API
(``agent_ui.admin.knowledge_views``, ``agent_ui.help.views``), merged into ``agent_ui.api.openapi``'s document."""

from __future__ import annotations

from typing import Any

from agent_ui.api.openapi_parts import (
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

_KEYWORD = {"type": "object", "required": ["phrase"],
            "properties": {"phrase": STR, "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 100,
                                                      "default": 1}}}
_TEMPLATE_FIELDS = {
    "name": STR, "language": {**STR, "description": "e.g. en, zh, es; empty for any language"},
    "subject": {**STR, "description": "Jinja2 (sandboxed) with customer, ticket, agent"},
    "body": {**STR, "description": "Jinja2 (sandboxed); autoescaped when html"},
    "html": {"type": "boolean"}, "keywords": {"type": "array", "items": _KEYWORD},
    "exclusions": {**STRS, "description": "phrases that veto the template"}, "active": {"type": "boolean"},
}
_ARTICLE_FIELDS = {"title": STR, "body": STR, "language": STR, "tags": STRS, "published": {"type": "boolean"}}
_IMPORTED = {"type": "object", "properties": {"imported": {"type": "object", "properties": {
    k: {"type": "integer"} for k in ("templates_created", "templates_updated", "articles_created", "articles_updated")
}}}}
_SEARCH = [query("q", "words to look for (any language, any script)"), query("lang", "only this language")]

def _deleted(summary: str) -> dict[str, Any]:
    errors = {str(c): {"description": "error", **as_json(ref("Error"))} for c in (401, 403, 404)}
    return {"summary": summary, "responses": {"204": {"description": "deleted"}, **errors}}


SCHEMAS: dict[str, Any] = {
    "TemplateDraft": {"type": "object", "required": ["name"], "properties": _TEMPLATE_FIELDS},
    "Template": {"type": "object", "properties": {
        "id": {"type": "integer"}, **_TEMPLATE_FIELDS, "usage_count": {"type": "integer"},
        "updated_at": TIME, "updated_by": {"type": "integer", "nullable": True}}},
    "Suggestion": {"type": "object", "properties": {
        "template_id": {"type": "integer"}, "name": STR, "score": {"type": "number"},
        "matched": {**STRS, "description": "the keywords found, as written in the template"}}},
    "ArticleDraft": {"type": "object", "required": ["title"], "properties": _ARTICLE_FIELDS},
    "Article": {"type": "object", "properties": {"id": {"type": "integer"}, **_ARTICLE_FIELDS,
                                                 "updated_at": TIME}},
}

PATHS: dict[str, Any] = {
    "/api/v1/templates": {
        "get": operation("Reply templates", list_of("templates", "Template"),
                   params=[query("active", "true for active templates only")]),
        "post": operation("Create a template (ops)", obj("template", ref("Template")), status="201",
                    body=ref("TemplateDraft"), errors=(401, 403, 409)),
    },
    "/api/v1/templates/{id}": {
        "parameters": [path_id("id")],
        "get": operation("One template", obj("template", ref("Template")), errors=(401, 403, 404)),
        "put": operation("Replace a template (ops)", obj("template", ref("Template")), body=ref("TemplateDraft"),
                   errors=(401, 403, 404, 409)),
        "delete": _deleted("Delete a template (ops)"),
    },
    "/api/v1/templates/suggestions": {
        "post": operation("Rank templates for a sample mail", list_of("suggestions", "Suggestion"),
                    body={"type": "object", "properties": {"subject": STR, "body": STR, "language": STR}}),
    },
    "/api/v1/templates/usage": {
        "get": operation("Replies sent from each template, most used first (supervisor, ops)",
                   {"type": "object", "properties": {"usage": {"type": "array", "items": {
                       "type": "object", "properties": {"template_id": {"type": "integer"}, "name": STR,
                                                        "language": STR, "uses": {"type": "integer"}}}}}},
                   params=[query("since", "count uses from this ISO date-time on")]),
    },
    "/api/v1/templates/export": {
        "get": {"summary": "All templates and articles as YAML (ops)", "responses": {
            "200": {"description": "YAML", "content": {"application/yaml": {"schema": STR}}},
            **{str(c): {"description": "error", **as_json(ref("Error"))} for c in (401, 403)}}},
    },
    "/api/v1/templates/import": {
        "post": {**operation("Import templates and articles from YAML (ops); all or nothing", _IMPORTED),
                 "requestBody": {"required": True, "content": {
                     "application/yaml": {"schema": STR},
                     "multipart/form-data": {"schema": {"type": "object", "properties": {
                         "file": {"type": "string", "format": "binary"}}}}}}},
    },
    "/api/v1/articles": {
        "get": operation("Search knowledge-base articles (staff see unpublished ones too)",
                   list_of("articles", "Article"), params=_SEARCH),
        "post": operation("Create an article (ops)", obj("article", ref("Article")), status="201",
                    body=ref("ArticleDraft")),
    },
    "/api/v1/articles/{id}": {
        "parameters": [path_id("id")],
        "get": operation("One article", obj("article", ref("Article")), errors=(401, 403, 404)),
        "put": operation("Replace an article (ops)", obj("article", ref("Article")), body=ref("ArticleDraft"),
                   errors=(401, 403, 404)),
        "delete": _deleted("Delete an article (ops)"),
    },
    "/api/v1/help/articles": {
        "get": {**operation("Search published articles (public, no sign-in)", list_of("articles", "Article"),
                      params=_SEARCH, errors=()), "security": []},
    },
}
