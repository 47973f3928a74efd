"""Typed key under which the webhook parts live on the web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from integrations.wiring import Webhooks

WEBHOOKS: web.AppKey[Webhooks] = web.AppKey("webhooks")
