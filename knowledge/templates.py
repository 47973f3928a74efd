"""Managing reply templates: ops and admins edit, agents read; every change is audited
and moves the template revision so every server's matcher reloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import utcnow
from core.errors import Conflict, NotFound
from core.records import Role
from core.template_workers import TemplateRenderer
from knowledge.drafts import TemplateDraft
from knowledge.records import ReplyTemplate, TemplateUse
from knowledge.rendering import check_template
from knowledge.revision import bump_revision


def template_dict(template: ReplyTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "subject": template.subject,
        "body": template.body,
        "html": template.is_html,
        "category": template.category or "",
        "keywords": [dict(k) for k in template.keywords or []],
        "exclusions": list(template.exclusions or []),
        "active": template.active,
        "usage_count": template.usage_count,
        "updated_at": template.updated_at.isoformat() if template.updated_at else None,
        "updated_by": template.updated_by,
    }


def _apply(template: ReplyTemplate, draft: TemplateDraft, actor: Actor) -> None:
    template.name = draft.name
    template.language = draft.language
    template.subject = draft.subject
    template.body = draft.body
    template.is_html = draft.html
    template.category = draft.category or None
    template.keywords = [k.model_dump() for k in draft.keywords]
    template.exclusions = list(draft.exclusions)
    template.active = draft.active
    template.updated_at = utcnow()
    template.updated_by = actor.user_id


async def _named(session: AsyncSession, name: str, language: str) -> ReplyTemplate | None:
    stmt = select(ReplyTemplate).where(ReplyTemplate.name == name, ReplyTemplate.language == language)
    return (await session.scalars(stmt)).first()


async def template_in_language(session: AsyncSession, name: str, language: str | None) -> ReplyTemplate | None:
    """The active template of this name for a customer writing ``language`` (e.g. "zh-CN"): the one
    written in their language, else the one for any language, else any of that name."""
    stmt = select(ReplyTemplate).where(ReplyTemplate.name == name, ReplyTemplate.active.is_(True)).order_by(ReplyTemplate.id)
    found = list(await session.scalars(stmt))
    wanted = (language or "").replace("_", "-").split("-")[0].lower()

    def rank(template: ReplyTemplate) -> int:
        own = (template.language or "").replace("_", "-").split("-")[0].lower()
        return 0 if own and own == wanted else 1 if not own else 2

    return min(found, key=rank, default=None)


async def list_templates(
    session: AsyncSession, actor: Actor, active_only: bool = False
) -> list[ReplyTemplate]:
    actor.require(Role.AGENT, Role.OPS)
    stmt = select(ReplyTemplate).order_by(ReplyTemplate.language, ReplyTemplate.name)
    if active_only:
        stmt = stmt.where(ReplyTemplate.active.is_(True))
    return list(await session.scalars(stmt))


async def get_template(session: AsyncSession, actor: Actor, template_id: int) -> ReplyTemplate:
    actor.require(Role.AGENT, Role.OPS)
    template = await session.get(ReplyTemplate, template_id)
    if template is None:
        raise NotFound("no such template", {"id": template_id})
    return template


async def create_template(
    session: AsyncSession, actor: Actor, draft: TemplateDraft, renderer: TemplateRenderer
) -> ReplyTemplate:
    """Save a new template once it renders, within its budget, against a sample context."""
    actor.require(Role.OPS)
    await check_template(renderer, draft.subject, draft.body, draft.html, f"template {draft.name!r}")
    if await _named(session, draft.name, draft.language):
        raise Conflict("a template with this name and language exists",
                       {"name": draft.name, "language": draft.language})
    template = ReplyTemplate(usage_count=0)
    _apply(template, draft, actor)
    session.add(template)
    await session.flush()
    record_change(session, actor, "create", "reply_template", template.id, None, template_dict(template))
    await bump_revision(session)
    return template


async def update_template(
    session: AsyncSession, actor: Actor, template_id: int, draft: TemplateDraft, renderer: TemplateRenderer
) -> ReplyTemplate:
    actor.require(Role.OPS)
    template = await get_template(session, actor, template_id)
    await check_template(renderer, draft.subject, draft.body, draft.html, f"template {draft.name!r}")
    other = await _named(session, draft.name, draft.language)
    if other is not None and other.id != template.id:
        raise Conflict("another template has this name and language",
                       {"name": draft.name, "language": draft.language, "id": other.id})
    before = template_dict(template)
    _apply(template, draft, actor)
    await session.flush()
    record_change(session, actor, "update", "reply_template", template.id, before, template_dict(template))
    await bump_revision(session)
    return template


async def delete_template(session: AsyncSession, actor: Actor, template_id: int) -> None:
    actor.require(Role.OPS)
    template = await get_template(session, actor, template_id)
    before = template_dict(template)
    await session.delete(template)
    await session.flush()
    record_change(session, actor, "delete", "reply_template", template_id, before, None)
    await bump_revision(session)


async def save_template(
    session: AsyncSession, actor: Actor, draft: TemplateDraft, renderer: TemplateRenderer
) -> tuple[ReplyTemplate, bool]:
    """Create, or update the template with the same name and language (YAML import)."""
    existing = await _named(session, draft.name, draft.language)
    if existing is None:
        return await create_template(session, actor, draft, renderer), True
    return await update_template(session, actor, existing.id, draft, renderer), False


async def template_usage(
    session: AsyncSession, actor: Actor, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Replies sent from each template (since ``since``), most used first: for supervisors'
    reports and for ops pruning templates nobody picks."""
    actor.require(Role.SUPERVISOR, Role.OPS)
    uses = func.count(TemplateUse.id)
    joined = TemplateUse.template_id == ReplyTemplate.id
    if since is not None:
        joined = and_(joined, TemplateUse.used_at >= since)
    stmt = (
        select(ReplyTemplate.id, ReplyTemplate.name, ReplyTemplate.language, uses)
        .outerjoin(TemplateUse, joined)
        .group_by(ReplyTemplate.id, ReplyTemplate.name, ReplyTemplate.language)
        .order_by(uses.desc(), ReplyTemplate.name)
    )
    return [
        {"template_id": tid, "name": name, "language": language, "uses": count}
        for tid, name, language, count in (await session.execute(stmt)).all()
    ]
