"""Typed key under which the SLA parts live on the web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from alerts.wiring import SlaParts

SLA: web.AppKey[SlaParts] = web.AppKey("sla")
