"""Reply templates, keyword matching and knowledge-base articles.

Channels use ``TemplateLibrary`` (``Services.templates``): ``suggest`` for every incoming
mail, ``render`` when an agent picks a suggestion (variables from ``reply_context``),
``record_use`` when the reply is sent. Ops manage templates and articles through
``knowledge.templates``, ``knowledge.articles`` and ``knowledge.transfer`` (YAML).
"""

from knowledge.rendering import reply_context
from knowledge.suggestions import RenderedReply, Suggestion, TemplateLibrary
from knowledge.transfer import import_samples

__all__ = ["RenderedReply", "Suggestion", "TemplateLibrary", "import_samples", "reply_context"]
