"""Managing reply templates: ops and admins edit, agents read; every change is audited
and moves the template revision so every server's matcher reloads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import utcnow
from core.errors import Conflict, InvalidInput, NotFound
from core.records import Role
from knowledge.records import ReplyTemplate
from knowledge.rendering import check_template
from knowledge.revision import bump_revision


class KeywordSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phrase: str = Field(min_length=1, max_length=200)
    weight: float = Field(default=1.0, gt=0, le=100)

    @field_validator("phrase")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("a keyword needs some text")
        return value


class TemplateDraft(BaseModel):
    """A template as ops write it (web form, REST, YAML)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    language: str = Field(default="", max_length=16)
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", max_length=100_000)
    html: bool = False
    keywords: list[KeywordSpec] = Field(default_factory=list, max_length=200)
    exclusions: list[str] = Field(default_factory=list, max_length=100)
    active: bool = True

    @field_validator("keywords", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        """Also accept ``- refund`` (weight 1) and ``- refund: 3`` in YAML."""
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                out.append({"phrase": item})
            elif isinstance(item, dict) and len(item) == 1 and "phrase" not in item:
                ((phrase, weight),) = item.items()
                out.append({"phrase": str(phrase), "weight": weight})
            else:
                out.append(item)
        return out

    @field_validator("exclusions")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return [" ".join(v.split()) for v in value if v.strip()]


def parse_template(data: Any) -> TemplateDraft:
    try:
        return TemplateDraft.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("the template is not valid", {"errors": _errors(exc)}) from None


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def template_dict(template: ReplyTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "subject": template.subject,
        "body": template.body,
        "html": template.is_html,
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
    template.keywords = [k.model_dump() for k in draft.keywords]
    template.exclusions = list(draft.exclusions)
    template.active = draft.active
    template.updated_at = utcnow()
    template.updated_by = actor.user_id


async def _named(session: AsyncSession, name: str, language: str) -> ReplyTemplate | None:
    stmt = select(ReplyTemplate).where(ReplyTemplate.name == name, ReplyTemplate.language == language)
    return (await session.scalars(stmt)).first()


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


async def create_template(session: AsyncSession, actor: Actor, draft: TemplateDraft) -> ReplyTemplate:
    actor.require(Role.OPS)
    check_template(draft.subject, draft.body, draft.html)
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
    session: AsyncSession, actor: Actor, template_id: int, draft: TemplateDraft
) -> ReplyTemplate:
    actor.require(Role.OPS)
    template = await get_template(session, actor, template_id)
    check_template(draft.subject, draft.body, draft.html)
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


async def save_template(session: AsyncSession, actor: Actor, draft: TemplateDraft) -> tuple[ReplyTemplate, bool]:
    """Create, or update the template with the same name and language (YAML import)."""
    existing = await _named(session, draft.name, draft.language)
    if existing is None:
        return await create_template(session, actor, draft), True
    return await update_template(session, actor, existing.id, draft), False
