"""The database restarted under load: every instance recovers without a restart of its own.

Three ``frontdesk serve`` processes on a PostgreSQL server of this test's own (the shared one
serves the other tests and must not be restarted), with the AMI simulator and a real Dovecot
mailbox. Agents' WebSockets are open on every instance, dials go through an instance without
the PBX link and tickets are created while PostgreSQL is stopped with ``-m immediate`` (a
crash: no backend says goodbye), kept down a few seconds, and started again. Then, with the
same processes: every ``/readyz`` is ready, one owner of the PBX link and of the mailbox,
events cross instances again (LISTEN re-established), the API answers on every instance, a
mail sent after the restart is imported once, and no Originate went out twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cluster_processes import (
    Cluster,
    Instance,
    append_mail,
    cluster_config,
    counting_pbx,
    order_mail,
    pbx_connected,
)
from conftest import need_service
from mail_fixtures import add_user as add_imap_user
from private_postgres import PrivatePostgres, postgres_bin_dir
from sqlalchemy import select

from channels.dovecot import ThrowawayDovecot
from channels.records import MailMessage
from config.app import build_services
from config.settings import load_settings
from core.migrate import upgrade
from core.users import add_user, new_api_token

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

# How long the database stays down (FRONTDESK_DB_DOWN_S=60: an outage long enough for every
# supervised loop's backoff to have grown to its cap).
DOWN_S = float(os.environ.get("FRONTDESK_DB_DOWN_S", "3"))
RECOVERY_S = 30.0  # from the database back to every instance serving again


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = postgres_bin_dir()
    need_service(bin_dir is not None, "the PostgreSQL server binaries (initdb, pg_ctl)")
    assert bin_dir is not None
    server = PrivatePostgres(bin_dir)
    try:
        server.init().start()
        yield server
    finally:
        server.cleanup()


class Console:
    """An agent's open page: reads its socket all the time (as a browser does, answering the
    server's pings), keeping the frames for the test to look through."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.frames.put_nowait(json.loads(message.data))
        self.frames.put_nowait(None)  # the socket ended

    async def next(self, name: str, match: dict[str, Any], within: float) -> None:
        """Read frames until ``name`` with data containing ``match``."""
        async with asyncio.timeout(within):
            while True:
                frame = await self.frames.get()
                assert frame is not None, f"the socket ended ({self.ws.close_code})"
                if frame["event"] == name and all(frame["data"].get(k) == v for k, v in match.items()):
                    return

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def test_every_instance_recovers_from_a_database_restart_under_load_without_restarting(
    private_postgres: PrivatePostgres, tmp_path: Path, dovecot: ThrowawayDovecot
) -> None:
    database_url = private_postgres.create_database("frontdesk")
    await asyncio.to_thread(upgrade, database_url)
    user = f"support{uuid.uuid4().hex[:8]}"
    add_imap_user(dovecot, user)
    box = dovecot.mailbox(user, name="support", address=f"{user}@example.com", poll_interval=0.5)
    pbx = counting_pbx()
    await pbx.start()
    services = build_services(load_settings(None, database_url=database_url))
    async with services.db.transaction() as session:
        agent = await add_user(session, "agent", "correct horse battery", "Agent", ["agent"], extension="1001")
        boss = await add_user(session, "boss", "correct horse battery", "Boss", ["supervisor"])
        agent_token, _ = await new_api_token(session, agent, "db restart test")
        boss_token, _ = await new_api_token(session, boss, "db restart test")
    await services.db.close()
    config = cluster_config(database_url, pbx, box, cluster={"keepalive_s": 1.0})
    stop_load = asyncio.Event()
    run = uuid.uuid4().hex[:6]
    agent_auth = {"Authorization": f"Bearer {agent_token}"}
    boss_auth = {"Authorization": f"Bearer {boss_token}"}
    async with pbx.sampling(), Cluster(config, tmp_path) as cluster, aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)) as http:
        instances = cluster.start(3)
        await cluster.wait_ready(instances)
        pids = {i.index: i.process.pid for i in instances}
        owner = await cluster.wait_owner("pbx:sim")
        await cluster.wait_owner("mailbox:support")
        asker = next(i for i in instances if i is not owner)  # dials are relayed to the owner
        consoles = {i.index: Console(await http.ws_connect(f"{i.url}/ws", headers=agent_auth))
                    for i in instances}
        outcomes: Counter[str] = Counter()
        dials: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []  # what people were told, to read the refusals

        async def load() -> None:
            """Dials via a non-owner and tickets on every instance, whatever the database does."""
            n = 0
            while not stop_load.is_set():
                n += 1
                target: Instance = instances[n % 3]
                try:
                    if n % 2:
                        async with http.post(f"{asker.url}/api/v1/cti/dial", json={"number": f"5550{n:04d}"},
                                             headers=agent_auth) as resp:
                            dials.append({"status": resp.status, **await resp.json()})
                            outcomes[f"dial {resp.status}"] += 1
                            answers.append(dials[-1])
                    else:
                        async with http.post(f"{target.url}/api/v1/tickets", json={"subject": f"Load {run} {n}"},
                                             headers=boss_auth) as resp:
                            outcomes[f"ticket {resp.status}"] += 1
                            answers.append({"status": resp.status, **await resp.json()})
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    outcomes[type(exc).__name__] += 1
                await asyncio.sleep(0.05)

        loading = asyncio.create_task(load())
        try:
            await cluster.until(lambda: _fast(outcomes["ticket 201"] >= 5 and outcomes["dial 200"] >= 3),
                                within=20, what="load before the restart")
            await asyncio.to_thread(private_postgres.stop, "immediate")

            async def all_see_the_database_down() -> bool:
                return [await cluster.readyz(i) for i in instances] == [None, None, None]

            await cluster.until(all_see_the_database_down, within=10, what="every instance noticing the database gone")
            await asyncio.sleep(DOWN_S)  # the outage itself, under load
            await asyncio.to_thread(private_postgres.start)
            restarted_at = time.monotonic()
            try:
                await cluster.wait_ready(instances, within=RECOVERY_S)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n" + "\n".join(cluster.tail(i, 60) for i in instances)) from None
            # The same processes: nobody restarted them.
            assert {i.index: i.process.pid for i in instances} == pids and all(i.alive for i in instances)
            new_owner = await cluster.wait_owner("pbx:sim", within=RECOVERY_S)
            await cluster.until(lambda: pbx_connected(cluster, new_owner), within=RECOVERY_S,
                                what="the PBX link's owner connected again")
            await cluster.wait_owner("mailbox:support", within=RECOVERY_S)

            async def buses_listening() -> bool:
                bodies = [await cluster.readyz(i) for i in instances]
                return all(body is not None and body["cluster"]["state"] == "connected" for body in bodies)

            await cluster.until(buses_listening, within=RECOVERY_S, what="every cluster bus listening again")

            async def every_part_working() -> bool:
                """Not only ready: every background loop (SLA scanner, outboxes, ...) running again."""
                bodies = [await cluster.readyz(i) for i in instances]
                return all(body is not None and body["status"] == "ready"
                           and all(c["ok"] for c in body["components"].values()) for body in bodies)

            try:
                await cluster.until(every_part_working, within=RECOVERY_S, what="every part of every instance working")
            except AssertionError as exc:
                bodies = [await cluster.readyz(i) for i in instances]
                broken = [{n: c["detail"] for n, c in (b or {}).get("components", {}).items() if not c["ok"]} for b in bodies]
                raise AssertionError(f"{exc}: {broken}") from None
            recovered_s = time.monotonic() - restarted_at
            dials_before = len(dials)
            await cluster.until(lambda: _fast(sum(1 for d in dials[dials_before:] if d["status"] == 200) >= 2),
                                within=RECOVERY_S, what="dials relayed to the PBX again")
        finally:
            stop_load.set()
            await loading

        # The consoles open all along are told to read their pages again (what they missed)...
        for console in consoles.values():
            await console.next("live.resync", {}, within=10)
        # ...and events cross instances again: a ticket made on each instance appears live on the others.
        for maker in instances:
            async with http.post(f"{maker.url}/api/v1/tickets", json={"subject": f"After {run} {maker.index}"},
                                 headers=boss_auth) as resp:
                assert resp.status == 201, await resp.text()
                ticket_id = (await resp.json())["ticket"]["id"]
            for watcher in instances:
                try:
                    await consoles[watcher.index].next("ticket.created", {"ticket_id": ticket_id}, within=10)
                except TimeoutError:
                    raise AssertionError(f"ticket {ticket_id} made on {maker.index} never reached "
                                         f"instance {watcher.index}'s socket\n{cluster.tail(watcher, 60)}") from None
        # The API answers on every instance.
        for instance in instances:
            async with http.get(f"{instance.url}/api/v1/tickets", headers=boss_auth) as resp:
                assert resp.status == 200, await resp.text()
        # A mail sent now is imported, once.
        await append_mail(box, order_mail(run, 1))
        db = build_services(load_settings(None, database_url=database_url)).db
        try:
            async def imported() -> list[str]:
                async with db.session() as session:
                    return list((await session.execute(select(MailMessage.message_id).where(
                        MailMessage.message_id.like(f"<{run}-%")))).scalars())

            await cluster.until(lambda: _nonempty(imported()), within=20, what="the mail sent after the restart imported")
            await asyncio.sleep(1.0)  # a second reader would import it again by now
            assert await imported() == [f"<{run}-1@example.net>"]
        finally:
            await db.close()
        for console in consoles.values():
            await console.close()
    await pbx.close()
    print(f"recovered {recovered_s:.1f}s after the database came back")
    assert recovered_s < RECOVERY_S
    assert pbx.most_links == 1, "never two AMI links to one PBX"
    assert all(count == 1 for count in pbx.originated.values()), f"an Originate sent twice: {pbx.originated}"
    for dial in (d for d in dials if d["status"] == 200):
        assert pbx.originated[dial["linkedid"]] == 1
    assert outcomes["ticket 201"] > 5 and outcomes["dial 200"] > 3, outcomes
    # While the database was down people were told to try again shortly (503), never "a bug" (500).
    told = Counter((r["status"], r["error"]) for r in answers if r["status"] not in (200, 201))
    assert told and set(told) <= {(503, "database-unavailable"), (504, "pbx-timeout"), (503, "pbx-link-down")}, told


async def _fast(value: bool) -> bool:
    return value


async def _nonempty(rows: Any) -> bool:
    return bool(await rows)


