"""Masking wired into the pages and the live screen-pop: template filters for numbers and
addresses, and the live hub's per-person rewrite of addressed events (pop, call panel)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from agent_ui.base import contact_masking
from agent_ui.live.hub import LIVE_HUB
from core.auth import Actor
from core.events import DomainEvent
from privacy import PRIVACY_POLICY
from privacy.masking import mask_event


@jinja2.pass_context
def _shown_phone(context: Any, e164: str) -> str:
    return contact_masking.shown_phone(context["request"], e164)


@jinja2.pass_context
def _shown_email(context: Any, address: str) -> str:
    return contact_masking.shown_email(context["request"], address)


@jinja2.pass_context
def _contacts_masked(context: Any) -> bool:
    return contact_masking.masks_contacts(context["request"])


async def _mask_live_events(app: web.Application) -> None:
    hub = app.get(LIVE_HUB)
    if hub is None:
        return

    def rewrite(event: DomainEvent, actor: Actor) -> DomainEvent:
        cache = app.get(PRIVACY_POLICY)
        return mask_event(event) if cache is not None and cache.current.masks(actor) else event

    hub.rewrite = rewrite


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.filters["shown_phone"] = _shown_phone
    env.filters["shown_email"] = _shown_email
    env.globals["contacts_masked"] = _contacts_masked
    app.on_startup.append(_mask_live_events)
