"""Two server instances on one PostgreSQL: what happens on one is live on the other.

Instance A holds the PBX link (the AMI simulator); instance B has none. Agents' WebSockets are
on B. Every test runs over PostgreSQL LISTEN/NOTIFY, and the key ones over Redis pub/sub too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestServer
from cti_fixtures import EXTENSIONS, until
from pydantic import SecretStr
from web_fixtures import PASSWORD, STAFF, WebSite

from agent_ui.login.limiter import LOGIN_LIMITER
from agent_ui.wallboard.feed import WALLBOARD
from config.app import build_app, build_services
from config.settings import Settings
from core.bus_postgres import PostgresNotify, asyncpg_dsn
from core.bus_redis import RedisPubSub
from core.cluster_bus import ClusterBus
from core.cluster_settings import ClusterSettings
from core.errors import TooManyRequests
from core.events import TimelineAppended
from core.users import add_user
from cti.plugin import CTI
from cti.settings import PbxSettings
from cti.simulator import AmiSimulator, QueueCall
from routing.keys import ASSIGNMENT

pytestmark = pytest.mark.postgres_only  # several instances share one database: PostgreSQL's job
REDIS_URL = "redis://127.0.0.1:6379/0"
SHARED_SECRET = "the-same-secret-key-on-every-instance-0123456789"


async def _redis_up() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (OSError, redis.RedisError):
        return False
    finally:
        await client.aclose()


async def _serve(settings: Settings, name: str, users: dict[str, Any] | None, backend: str, channel: str,
                 pbx: list[PbxSettings] | None = None) -> WebSite:
    cluster = ClusterSettings(instance_id=name, backend=backend, channel=channel, keepalive_s=0.5,  # type: ignore[arg-type]
                              redis_url=REDIS_URL if backend == "redis" else None)  # type: ignore[arg-type]
    web = settings.web.model_copy(update={"secret_key": SecretStr(SHARED_SECRET), "login_attempts_per_minute": 3})
    configured = settings.model_copy(update={"cluster": cluster, "pbx": pbx or [], "web": web})
    services = build_services(configured)
    if users is None:
        async with services.db.transaction() as session:
            users = {login: await add_user(session, login, PASSWORD, login.capitalize(), roles, extension=EXTENSIONS.get(login))
                     for login, roles in STAFF.items()}
    server = TestServer(build_app(configured, services), host="127.0.0.1", port=0)
    await server.start_server()
    return WebSite(server, services, users)


def bus_of(site: WebSite) -> ClusterBus:
    assert isinstance(site.services.bus, ClusterBus)
    return site.services.bus


@pytest.fixture(params=["postgresql", "redis"])
async def two_instances(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[tuple[WebSite, WebSite, AmiSimulator]]:
    backend = request.param
    if backend == "redis" and not await _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    channel = f"fd_test_{uuid.uuid4().hex[:10]}"  # tests sharing one Redis stay apart
    sim = AmiSimulator("cti", "s3cret", queues={"support": ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"]}, answer_delay_s=0.05)
    await sim.start()
    pbx = PbxSettings.model_validate({"name": "sim", "port": sim.port, "username": "cti", "secret": "s3cret",
                                      "md5_auth": True, "ping_interval": 1.0, "action_timeout": 2.0})
    a = await _serve(settings, "instance-a", None, backend, channel, [pbx])
    b = await _serve(settings, "instance-b", a.users, backend, channel)
    assert a.server.app is not None
    link = a.server.app[CTI].lines["sim"].link
    await until(lambda: link.up and link.resyncs >= 1 and bus_of(a).state == bus_of(b).state == "connected")
    try:
        yield a, b, sim
    finally:
        for site in (a, b):
            for client in site.clients:
                await client.close()
            await site.server.close()
            await site.services.db.close()
        await sim.close()


async def next_event(ws: ClientWebSocketResponse, name: str, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["event"] == name:
                return dict(message["data"])


async def test_a_call_ringing_on_instance_a_pops_on_the_agents_socket_on_instance_b(
        two_instances: tuple[WebSite, WebSite, AmiSimulator]) -> None:
    a, b, sim = two_instances
    agent = await b.login("agent")
    ws = await agent.http.ws_connect("/ws")
    await asyncio.sleep(0.05)
    sim.spawn(sim.play(QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001"], answered_by="PJSIP/1001",
                                 ring_s=0.3, talk_s=0.3).steps()))
    pop = await next_event(ws, "cti.pop")
    assert pop["pop"]["number"] == "+8613800138000" and pop["user_ids"] == [a.users["agent"].id]
    assert (await next_event(ws, "cti.call_panel"))["state"] == "live"
    assert (await next_event(ws, "cti.call_panel"))["state"] == "ended"
    assert bus_of(b).received > 0 and bus_of(b).describe()["peers"] == ["instance-a"]
    metrics = await (await b.anonymous()).api("GET", "/metrics")
    lag = [line for line in metrics.splitlines() if line.startswith("frontdesk_cluster_event_lag_seconds_count")]
    assert lag and float(lag[0].split()[-1]) > 0
    assert "frontdesk_cluster_bus_reconnects_total" in metrics


async def test_a_ticket_changed_on_a_appears_live_on_b_and_a_burst_keeps_its_order(
        two_instances: tuple[WebSite, WebSite, AmiSimulator]) -> None:
    a, b, _sim = two_instances
    robot = await a.token_client("supervisor")
    watcher = await b.login("agent2")
    ws = await watcher.http.ws_connect("/ws")
    await asyncio.sleep(0.05)
    made = await robot.api("POST", "/api/v1/tickets", json={"subject": "Seen everywhere"}, status=201)
    ticket_id = made["ticket"]["id"]
    assert (await next_event(ws, "ticket.created"))["ticket_id"] == ticket_id
    await robot.api("PATCH", f"/api/v1/tickets/{ticket_id}", json={"status": "open"})
    assert (await next_event(ws, "ticket.updated"))["fields"] == ["status"]
    for n in range(200):  # a burst on one ticket, published on A as fast as it goes
        await a.services.bus.publish(TimelineAppended(ticket_id, 10_000 + n, "note"))
    seen = [(await next_event(ws, "ticket.timeline"))["entry_id"] for _ in range(200)]
    assert seen == list(range(10_000, 10_200))
    assert bus_of(b).resyncs == 0


async def test_a_listener_cut_off_reconnects_and_tells_the_consoles_to_refresh(
        two_instances: tuple[WebSite, WebSite, AmiSimulator]) -> None:
    a, b, _sim = two_instances
    agent = await b.login("agent")
    ws = await agent.http.ws_connect("/ws")
    await asyncio.sleep(0.05)
    transport = bus_of(b).transport
    if isinstance(transport, PostgresNotify):
        pid = transport.listener_pid
        conn = await asyncpg.connect(asyncpg_dsn(b.services.settings.database_url))
        try:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()
    else:
        assert isinstance(transport, RedisPubSub)
        client = redis.Redis.from_url(REDIS_URL)
        try:
            ids = [c["id"] for c in await client.client_list() if c.get("name") == transport.listener_name]
            assert ids
            for client_id in ids:
                await client.client_kill_filter(_id=client_id)
        finally:
            await client.aclose()
    await next_event(ws, "live.resync", within=10.0)
    assert bus_of(b).reconnects == 1 and bus_of(b).state == "connected"
    ready = await (await b.anonymous()).api("GET", "/readyz")
    assert ready["cluster"]["state"] == "connected" and ready["cluster"]["reconnects"] == 1
    robot = await a.token_client("supervisor")  # and events flow again
    made = await robot.api("POST", "/api/v1/tickets", json={"subject": "After the cut"}, status=201)
    assert (await next_event(ws, "ticket.created"))["ticket_id"] == made["ticket"]["id"]


async def test_a_login_made_on_a_works_on_b_and_failed_logins_count_on_every_instance(
        two_instances: tuple[WebSite, WebSite, AmiSimulator]) -> None:
    a, b, _sim = two_instances
    on_a = await a.login("agent")
    assert on_a.http.server is a.server
    # The same browser (its cookie) sent to B by the load balancer: signed in, its CSRF token good there.
    cookies = {c.key: c.value for c in on_a.http.session.cookie_jar}
    on_b = await b.anonymous()
    on_b.http.session.cookie_jar.update_cookies(cookies)
    on_b.csrf_token = on_a.csrf_token
    me = await on_b.api("GET", "/api/v1/me")
    assert me["user"]["login"] == "agent" and me["csrf_token"] == on_a.csrf_token
    await on_b.api("POST", "/api/v1/me/presence", json={"state": "ready"})
    # ...and the presence chosen on B is what A's assigner offers work by.
    await until(lambda: a.server.app[ASSIGNMENT].presence.states.get(a.users["agent"].id) == "ready")
    # Three wrong passwords on A: B refuses the fourth try (limit 3 a minute), not only A.
    for _ in range(3):
        response = await (await a.anonymous()).http.post("/login", data={"login": "agent2", "password": "wrong"},
                                                           allow_redirects=False)
        assert response.status == 401
    assert b.server.app is not None
    limiter = b.server.app[LOGIN_LIMITER]

    def b_counted_them() -> bool:
        try:
            limiter.check("127.0.0.1", "agent2")
        except TooManyRequests:
            return True
        return False

    await until(b_counted_them)  # the failures on A reached B's limiter over the bus
    response = await (await b.anonymous()).http.post("/login", data={"login": "agent2", "password": "wrong"},
                                                       allow_redirects=False)
    assert response.status == 429


async def _people(ws: ClientWebSocketResponse, ticket_id: int, expected: list[tuple[int, str]]) -> None:
    """Read ``ticket.presence`` frames until the ticket's people (id, state) are ``expected``."""
    while True:
        data = await next_event(ws, "ticket.presence")
        if data["ticket_id"] == ticket_id and [(p["user_id"], p["state"]) for p in data["people"]] == expected:
            return


async def test_two_people_on_one_ticket_through_different_instances_see_each_other(
        two_instances: tuple[WebSite, WebSite, AmiSimulator]) -> None:
    a, b, _sim = two_instances
    robot = await a.token_client("supervisor")
    ticket_id = (await robot.api("POST", "/api/v1/tickets", json={"subject": "Shared"}, status=201))["ticket"]["id"]
    on_a, on_b = await a.login("agent"), await b.login("agent2")
    ws_a, ws_b = await on_a.http.ws_connect("/ws"), await on_b.http.ws_connect("/ws")
    alice, bob = a.users["agent"].id, a.users["agent2"].id
    await ws_a.send_str(json.dumps({"watch": {"ticket": ticket_id}}))
    await asyncio.sleep(0.2)
    await ws_b.send_str(json.dumps({"watch": {"ticket": ticket_id}}))
    await _people(ws_b, ticket_id, [(alice, "viewing"), (bob, "viewing")])
    await _people(ws_a, ticket_id, [(alice, "viewing"), (bob, "viewing")])
    await ws_b.send_str(json.dumps({"presence": "replying"}))
    await _people(ws_a, ticket_id, [(alice, "viewing"), (bob, "replying")])
    await ws_b.close()  # Bob's page on B is gone: Alice's on A drops him
    await _people(ws_a, ticket_id, [(alice, "viewing")])


async def test_the_wallboard_on_b_counts_the_calls_waiting_on_as_pbx_link_and_the_calls_answered_there(
        two_instances: tuple[WebSite, WebSite, AmiSimulator]) -> None:
    _a, b, sim = two_instances
    assert b.server.app is not None
    stats = b.server.app[WALLBOARD].stats
    sim.spawn(sim.play(QueueCall("+15550100", "Waiting Caller", ring=["PJSIP/1001"], answered_by="PJSIP/1001",
                                 ring_s=2.0, talk_s=0.2).steps()))
    await until(lambda: stats.board().overall.waiting == 1)  # ringing in the queue, seen by A's link only
    await until(lambda: stats.board().overall.waiting == 0 and stats.board().overall.tally.offered == 1)
