"""Templates and articles as YAML, for ops to keep in version control and move between
servers. Import creates or updates by (name, language) and (title, language), all in
the caller's transaction: one bad entry refuses the whole file."""

from __future__ import annotations

import asyncio
import dataclasses
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.errors import FrontdeskError, InvalidInput
from core.records import Role
from core.template_workers import TemplateRenderer
from knowledge.articles import create_article, update_article
from knowledge.drafts import parse_article, parse_template
from knowledge.records import KnowledgeArticle
from knowledge.templates import list_templates, save_template

MAX_YAML_BYTES = 5_000_000
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclasses.dataclass(slots=True)
class ImportSummary:
    templates_created: int = 0
    templates_updated: int = 0
    articles_created: int = 0
    articles_updated: int = 0


async def export_yaml(session: AsyncSession, actor: Actor) -> str:
    actor.require(Role.OPS)
    templates = []
    for t in await list_templates(session, actor):
        templates.append({
            "name": t.name, "language": t.language, "subject": t.subject, "body": t.body,
            "html": t.is_html, "keywords": [dict(k) for k in t.keywords or []],
            "exclusions": list(t.exclusions or []), "active": t.active,
        })
    articles = [
        {"title": a.title, "language": a.language, "tags": list(a.tags or []),
         "published": a.published, "body": a.body}
        for a in await session.scalars(select(KnowledgeArticle).order_by(KnowledgeArticle.id))
    ]
    return yaml.safe_dump({"templates": templates, "articles": articles}, allow_unicode=True,
                          sort_keys=False, width=100)


def _load(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_YAML_BYTES:
        raise InvalidInput("the file is too large", {"max_bytes": MAX_YAML_BYTES})
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader; libyaml when present
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the file is not valid YAML: {exc}") from None
    except RecursionError:  # PyYAML recurses per nesting level
        raise InvalidInput("the file nests too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"templates", "articles"}:
        raise InvalidInput("the file must be a mapping with 'templates' and/or 'articles' lists")
    for section in ("templates", "articles"):
        if not isinstance(data.get(section) or [], list):
            raise InvalidInput(f"'{section}' must be a list")
    return data


async def import_yaml(
    session: AsyncSession, actor: Actor, text: str | bytes, renderer: TemplateRenderer
) -> ImportSummary:
    actor.require(Role.OPS)
    # PyYAML is pure Python: a 5 MB file takes seconds to parse, which must not stall the loop.
    data = await asyncio.to_thread(_load, text)
    summary = ImportSummary()
    for section, entries in (("templates", data.get("templates") or []),
                             ("articles", data.get("articles") or [])):
        for position, entry in enumerate(entries):
            try:
                if section == "templates":
                    _, created = await save_template(session, actor, parse_template(entry), renderer)
                    summary.templates_created += created
                    summary.templates_updated += not created
                else:
                    created = await _save_article(session, actor, entry)
                    summary.articles_created += created
                    summary.articles_updated += not created
            except FrontdeskError as exc:
                where = f"{section}[{position}]"
                raise type(exc)(f"{where}: {exc.message}", {"entry": where, **exc.details}) from None
    return summary


async def _save_article(session: AsyncSession, actor: Actor, entry: Any) -> bool:
    draft = parse_article(entry)
    stmt = select(KnowledgeArticle).where(
        KnowledgeArticle.title == draft.title, KnowledgeArticle.language == draft.language
    )
    existing = (await session.scalars(stmt)).first()
    if existing is None:
        await create_article(session, actor, draft)
        return True
    await update_article(session, actor, existing.id, draft)
    return False


def sample_yaml() -> str:
    """The sample templates and articles shipped for the demo (``knowledge/samples.yaml``)."""
    return resources.files("knowledge").joinpath("samples.yaml").read_text("utf-8")


async def import_samples(
    session: AsyncSession, renderer: TemplateRenderer, actor: Actor | None = None
) -> ImportSummary:
    """Load the samples (the demo calls this on a fresh database)."""
    return await import_yaml(session, actor or Actor.system(), sample_yaml(), renderer)
