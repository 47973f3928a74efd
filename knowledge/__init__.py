"""Reply templates, keyword matching and knowledge-base articles."""

from knowledge.rendering import reply_context
from knowledge.suggestions import RenderedReply, Suggestion, TemplateLibrary

__all__ = ["RenderedReply", "Suggestion", "TemplateLibrary", "reply_context"]
