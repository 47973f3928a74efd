"""``/wallboard``: the supervisors' big screen, live over ``/wallboard/ws``.

Supervisors open it from the console; a TV browser opens ``/wallboard?token=...`` with
``web.wallboard_token`` and gets the read-only big-screen view (no chrome, large type).
The figures come from ``cti.queue_stats`` and ``alerts.backlog``; this module only wires
them to the page and the socket (``agent_ui.wallboard.feed``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import WSMsgType, web

from agent_ui.base.identity import actor_of, same_origin, signed_in
from agent_ui.base.keys import LOCALIZER, SERVICES
from agent_ui.base.rendering import render
from agent_ui.live.drain import DRAIN
from agent_ui.wallboard.feed import WALLBOARD, WallboardFeed
from agent_ui.wallboard.waiting_share import CallsWaiting, SharedWaiting
from core.auth import Actor
from core.cluster_bus import ClusterBus
from core.errors import Forbidden, NotAuthenticated
from core.events import DomainEvent
from core.records import Role
from core.supervisor import Backoff, SupervisedTask
from cti.plugin import CTI
from cti.queue_stats import QueueStats, ServiceLevelRule, tracker_waiting
from routing.keys import ASSIGNMENT

log = logging.getLogger(__name__)

WAITING_SHARE: web.AppKey[SupervisedTask] = web.AppKey("wallboard_waiting_share", SupervisedTask)

HEARTBEAT_S = 5.0  # a TV that stops answering pings is dropped after about 1.5 heartbeats
BOARD_VIEWER = Actor(None, "wallboard", frozenset())


def _viewer(request: web.Request) -> tuple[Actor, str]:
    """Who watches (a supervisor, or the wallboard token) and in which language."""
    localizer = request.app[LOCALIZER]
    token = request.query.get("token", "")
    expected = request.app[SERVICES].settings.web.wallboard_token
    if token:
        if expected is None or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
            raise NotAuthenticated("unknown wallboard token")
        return BOARD_VIEWER, localizer.pick(request.query.get("lang"))
    actor = actor_of(request)
    actor.require(Role.SUPERVISOR)
    who = signed_in(request)
    return actor, localizer.pick(request.query.get("lang") or (who.user.language if who else None))


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    actor, lang = _viewer(request)
    feed = request.app[WALLBOARD]
    token = request.query.get("token", "")
    big = bool(token) or request.query.get("big") == "1"
    regions = await feed.regions(lang, await feed.figures())
    rule = feed.stats.rule
    context = {"regions": regions, "big": big, "board_token": token, "lang": lang, "rule": rule,
               "viewer": actor, "now_epoch": feed.now_epoch(), "service_level_target": request.app[SERVICES].settings.web.wallboard.service_level_target}
    return render("wallboard/board.html", request, context)


async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    drain = request.app.get(DRAIN)
    if drain is not None:
        drain.refuse_new_socket()
    actor, lang = _viewer(request)
    if actor is not BOARD_VIEWER and not same_origin(request):
        raise Forbidden("the wallboard feed only serves this site's own pages", {"origin": request.headers.get("Origin")})
    feed = request.app[WALLBOARD]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    if not isinstance(request.transport, asyncio.Transport):  # the client left during the handshake
        return ws
    hub, conn = await feed.attach(ws, actor, lang, request.transport)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        if isinstance(ws.exception(), asyncio.TimeoutError):  # it stopped answering pings
            feed.heartbeat_drops += 1
        hub.detach(conn)
    return ws


async def _start(app: web.Application) -> None:
    services = app[SERVICES]
    board = services.settings.web.wallboard
    try:
        zone = ZoneInfo(services.settings.timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    cti = app.get(CTI)
    waiting = tracker_waiting(cti.lines.values()) if cti is not None else None
    if isinstance(services.bus, ClusterBus):  # the calls waiting on the other instances' PBX links too
        shared = SharedWaiting(waiting or (lambda: ()), services.bus.identity, services.bus.publish)
        services.bus.subscribe(CallsWaiting, shared.on_event, everywhere=True)
        waiting = shared.waiting
        share = app[WAITING_SHARE] = SupervisedTask("wallboard-waiting-share", shared.run, services.health,
                                                    Backoff(0.5, 10.0), required=False)
        share.start()
    stats = QueueStats(services.clock, zone, ServiceLevelRule(board.service_level_seconds, board.short_abandon_seconds),
                       waiting)
    for event_type in stats.EVENTS:
        services.bus.subscribe(event_type, stats.on_event, everywhere=True)  # calls seen by any instance's PBX link
    async with services.db.session() as session:
        await stats.load(session)
    feed = WallboardFeed(services, stats, aiohttp_jinja2.get_env(app), min_interval=1.0 / board.max_frames_per_second)
    feed.assignment = app.get(ASSIGNMENT)  # the routing plugin's (its cleanup context ran before this)
    services.bus.subscribe(DomainEvent, feed.on_event, everywhere=True)
    services.bus.on_resync(feed.resync)
    app[WALLBOARD] = feed
    feed.task.start()


async def _stop(app: web.Application) -> None:
    share = app.get(WAITING_SHARE)
    if share is not None:
        await share.stop()
    feed = app.get(WALLBOARD)
    if feed is not None:
        await feed.stop()
        for hub in feed.hubs.values():
            await hub.close_all()


def setup(app: web.Application) -> None:
    app.on_startup.append(_start)  # after the cleanup contexts: the CTI's trackers exist by then
    app.on_shutdown.append(_stop)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/wallboard/ws", wallboard_socket)
