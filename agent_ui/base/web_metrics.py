"""Prometheus metrics of the web layer: requests by route and status, live connections."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "frontdesk_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "frontdesk_http_request_seconds", "Time to answer an HTTP request", ["route"]
)
LIVE_CONNECTIONS = Gauge("frontdesk_websocket_connections", "Open live (WebSocket) connections")
LIVE_DROPPED = Counter(
    "frontdesk_websocket_dropped_total", "Live connections closed because the client fell behind"
)
LIVE_MESSAGES = Counter("frontdesk_websocket_messages_total", "Events queued to live connections")


def route_label(request: web.Request) -> str:
    """The route pattern (``/api/v1/tickets/{ticket_id}``), never the raw path: bounded labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_label(request)
        HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
