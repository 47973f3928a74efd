"""Tables owned by this package (on the shared ``core.records.Base``).

Keywords and exclusions live as JSON on the template row: they are always read and
written together with it, imported and exported as one YAML entry, and compiled all
at once into the matcher.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.records import Base


class ReplyTemplate(Base):
    __tablename__ = "reply_templates"
    __table_args__ = (UniqueConstraint("name", "language", name="uq_reply_templates_name_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16), default="")  # "" = any language
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    is_html: Mapped[bool] = mapped_column(Boolean, default=False)
    # Ops' grouping (e.g. "billing"); a routing rule may select on the top suggestion's category.
    category: Mapped[str | None] = mapped_column(String(80))
    # [{"phrase": "refund", "weight": 2.0}, ...]
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    exclusions: Mapped[list[Any]] = mapped_column(default=list)  # phrases that veto the template
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TemplateUse(Base):
    """One reply sent from a suggested template: feeds ranking and reports."""

    __tablename__ = "template_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("reply_templates.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateRevision(Base):
    """One row whose counter moves on every template change, so every server instance
    knows when its compiled matcher is stale without reloading the templates."""

    __tablename__ = "template_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class KnowledgeArticle(Base):
    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # title and body normalised like mail text, kept so search does not redo it per query
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class HelpDeflection(Base):
    """How often an article answered a question someone was about to send as a request (they
    pressed "this solved my question" on the request form): one counter per article."""

    __tablename__ = "help_deflections"

    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
