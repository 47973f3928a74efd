"""Reading the customer form: the text a person types into the fields the services take."""

from __future__ import annotations

import re
from typing import Any

from agent_ui.base.inputs import as_int
from core.customers import CustomerDraft
from core.errors import InvalidInput
from core.records import ticket_id_of_number

_SEPARATORS = re.compile(r"[,;\n]")
TEXT_FIELDS = ("name", "tier", "tier_reason", "language", "notes", "external_id")


def listed(text: str) -> list[str]:
    """"a@x.es, b@y.es" or one per line → the items."""
    return [part.strip() for part in _SEPARATORS.split(text or "") if part.strip()]


def draft_of(form: dict[str, str]) -> CustomerDraft:
    return CustomerDraft(
        name=form.get("name", "").strip(),
        phones=listed(form.get("phones", "")),
        emails=listed(form.get("emails", "")),
        # The tier chosen here is a person's (it wins over the tier rules); "" leaves it to the rules.
        tier=form.get("tier", "").strip() or "standard",
        tier_override=form.get("tier", "").strip() or None,
        language=form.get("language", "").strip() or None,
        tags=listed(form.get("tags", "")),
        external_id=form.get("external_id", "").strip() or None,
        notes=form.get("notes", ""),
        tier_reason=form.get("tier_reason", "").strip(),
    )


def changes_of(form: dict[str, str]) -> dict[str, Any]:
    """The edit form sends every field: each becomes a change (the service keeps what is equal)."""
    draft = draft_of(form)
    return {"name": draft.name, "phones": draft.phones, "emails": draft.emails, "tier_override": draft.tier_override,
            "language": draft.language, "tags": draft.tags, "external_id": draft.external_id,
            "notes": draft.notes, "tier_reason": draft.tier_reason}


def ticket_written(text: str, field: str = "ticket") -> int:
    """A ticket as people write it (``#1234``, the number on its page) → its id."""
    ticket_id = ticket_id_of_number(as_int(text.strip().lstrip("#").strip(), field))
    if ticket_id is None:
        raise InvalidInput("no such ticket number", {"field": field})
    return ticket_id
