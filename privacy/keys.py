"""Typed keys under which the privacy parts live on the web app (set by ``privacy.plugin``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from privacy.policy import PolicyCache
    from privacy.view_log import ViewLog

VIEW_LOG: web.AppKey[ViewLog] = web.AppKey("view_log")
PRIVACY_POLICY: web.AppKey[PolicyCache] = web.AppKey("privacy_policy")
