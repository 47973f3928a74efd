"""Headers that make every page harder to misuse: no framing, no sniffing, scripts only from /static.

Feature pages follow the same rule: JavaScript lives in each feature's ``static/*.js`` (served as ``/static/<name>``) (no inline
``<script>`` or ``on...=`` attributes); inline ``style`` attributes are allowed.

Pages connect only to their own origin, and to the exact WebSocket URLs a feature declares
through ``CONNECT_SOURCES`` (the browser softphone's SIP-over-WebSocket URL at the PBX).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

# Further connect-src sources, asked for on each page (they are known only once the services run).
CONNECT_SOURCES: web.AppKey[Callable[[web.Application], list[str]]] = web.AppKey("connect_sources")


def content_security_policy(app: web.Application) -> str:
    sources = app.get(CONNECT_SOURCES)
    extra = [s for s in (sources(app) if sources is not None else []) if s and not any(c in s for c in " ;,'\"")]
    if not extra:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", "connect-src 'self' " + " ".join(extra))


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        headers.setdefault("Content-Security-Policy", content_security_policy(request.app))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")
