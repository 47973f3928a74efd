"""Whether the person asking sees contact details masked (the privacy policy's masked roles),
and the masked form of what is shown to them: the API's customer documents, the pages'
numbers and addresses (template filters ``shown_phone``, ``shown_email`` and the global
``contacts_masked()``, registered by ``agent_ui.privacy``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.identity import signed_in
from core.phones import format_phone
from privacy import PRIVACY_POLICY
from privacy.masking import mask_document, mask_email, mask_phone


def masks_contacts(request: web.Request) -> bool:
    who = signed_in(request)
    cache = request.app.get(PRIVACY_POLICY)
    return who is not None and cache is not None and cache.current.masks(who.actor)


def shown_customer(request: web.Request, document: dict[str, Any]) -> dict[str, Any]:
    """A customer document (or any answer naming numbers and addresses by the usual keys:
    ``phones``, ``emails``, ``number``...) as this person may see it."""
    return mask_document(document) if masks_contacts(request) else document


def shown_hit(request: web.Request, hit: dict[str, Any]) -> dict[str, Any]:
    """A search hit as this person may see it: a customer's numbers and addresses masked, and
    no snippet (a customer's snippet is made of them)."""
    if hit.get("kind") != "customer" or not masks_contacts(request):
        return hit
    return {**hit, "record": mask_document(hit["record"]), "snippet": []}


def shown_entry(request: web.Request, entry: dict[str, Any]) -> dict[str, Any]:
    """A timeline entry as this person may see it: the payload's numbers and addresses masked."""
    if not masks_contacts(request) or not isinstance(entry.get("payload"), dict):
        return entry
    return {**entry, "payload": mask_document(entry["payload"])}


def shown_phone(request: web.Request, e164: str) -> str:
    return mask_phone(e164) if masks_contacts(request) else format_phone(e164)


def shown_email(request: web.Request, address: str) -> str:
    return mask_email(address) if masks_contacts(request) else address
