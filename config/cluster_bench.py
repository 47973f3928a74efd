"""``frontdesk bench cluster --json --database postgresql+asyncpg://...``: fail-over of the PBX link.

For 1, 2 and 3 real ``frontdesk serve`` instances on one PostgreSQL database, with the AMI
simulator as the PBX: an agent clicks to dial every ``--dial-every`` seconds through an
instance that does not run the link (relayed to the owner, ``cti.relay``); the owner is
killed with SIGKILL mid-traffic. Measured: ``failover_s`` (kill → another instance owns the
link and it is logged in), ``lost`` (dials the agent was told succeeded that never reached
the PBX), ``duplicated`` (Originates the PBX received more than once; must be 0), and
``refused`` (dials reported failed to the agent: in flight at the kill, never re-sent).
With one instance nothing takes over: it shows the baseline without a kill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from config.app import build_services
from config.cluster_processes import Cluster, Instance
from config.settings import load_settings
from core.migrate import upgrade
from core.records import User
from core.users import add_user, new_api_token
from cti.parser import Frame
from cti.simulator import AmiSimulator, _Client


class CountingPbx(AmiSimulator):
    """The simulator, counting each Originate by its channel id."""

    def __init__(self) -> None:
        super().__init__("bench", "bench-secret", queues={"support": ["PJSIP/1001"]}, answer_delay_s=0.05)
        self.originated: Counter[str] = Counter()

    def _action_originate(self, client: _Client, request: Frame) -> None:
        self.originated[request.get("ChannelId", "")] += 1
        super()._action_originate(client, request)


async def _token(database_url: str) -> str:
    services = build_services(load_settings(None, database_url=database_url))
    try:
        async with services.db.transaction() as session:
            user = (await session.execute(select(User).where(User.login == "bench-agent"))).scalar()
            if user is None:
                user = await add_user(session, "bench-agent", "bench-password", "Bench agent", ["agent"], extension="1001")
            token, _ = await new_api_token(session, user, f"cluster bench {uuid.uuid4().hex[:6]}")
        return token
    finally:
        await services.db.close()


async def _link_up(cluster: Cluster, instance: Instance) -> bool:
    body = await cluster.readyz(instance)
    return body is not None and "connected" in body["components"].get("pbx:bench", {}).get("detail", "")


async def run_one(database_url: str, count: int, traffic_s: float, dial_every: float, workdir: Path) -> dict[str, Any]:
    pbx = CountingPbx()
    await pbx.start()
    token = await _token(database_url)
    config = {
        "database_url": database_url,
        "log_level": "WARNING",
        "web": {"secret_key": uuid.uuid4().hex * 2},
        "pbx": [{"name": "bench", "port": pbx.port, "username": "bench", "secret": "bench-secret",
                 "ping_interval": 1.0, "action_timeout": 2.0, "reconnect_max_s": 0.5}],
    }
    dials: list[tuple[int, dict[str, Any]]] = []
    result: dict[str, Any] = {"instances": count}
    try:
        async with Cluster(config, workdir) as cluster:
            started = time.monotonic()
            [first] = cluster.start(1)
            await cluster.wait_ready([first])
            owner = await cluster.wait_owner("pbx:bench", within=30)
            if count > 1:
                await cluster.wait_ready(cluster.start(count - 1))
            result["ready_s"] = round(time.monotonic() - started, 2)
            asker = next((i for i in cluster.alive() if i is not owner), owner)

            async def traffic() -> None:
                headers = {"Authorization": f"Bearer {token}"}
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
                    end = time.monotonic() + traffic_s
                    n = 0
                    while time.monotonic() < end:
                        n += 1
                        async with http.post(f"{asker.url}/api/v1/cti/dial", json={"number": f"555{n:05d}"},
                                             headers=headers) as resp:
                            dials.append((resp.status, await resp.json()))
                        await asyncio.sleep(dial_every)

            sending = asyncio.create_task(traffic())
            await asyncio.sleep(traffic_s / 3)
            if count > 1:
                cluster.kill(owner)
                killed = time.monotonic()
                successor = await cluster.wait_owner("pbx:bench", within=30, not_=owner)
                await cluster.until(lambda: _link_up(cluster, successor), within=30, what="the new owner's link")
                result["failover_s"] = round(time.monotonic() - killed, 2)
            else:
                result["failover_s"] = None
            await sending
            await asyncio.sleep(1.0)  # the last Originates reach the PBX
    finally:
        await pbx.close()
    told_ok = [body["linkedid"] for status, body in dials if status == 200]
    result.update({
        "dials": len(dials),
        "refused": sum(1 for status, _ in dials if status != 200),
        "lost": sum(1 for linkedid in told_ok if pbx.originated[linkedid] == 0),
        "duplicated": sum(1 for n in pbx.originated.values() if n > 1),
    })
    return result


async def measure(database_url: str, counts: Sequence[int], traffic_s: float, dial_every: float) -> dict[str, Any]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="frontdesk-cluster-bench-") as tmp:
        for count in counts:
            workdir = Path(tmp) / f"n{count}"
            workdir.mkdir()
            runs.append(await run_one(database_url, count, traffic_s, dial_every, workdir))
    failovers = [r["failover_s"] for r in runs if r["failover_s"] is not None]
    return {
        "instances": list(counts),
        "failover_s": max(failovers) if failovers else None,
        "lost": sum(r["lost"] for r in runs),
        "duplicated": sum(r["duplicated"] for r in runs),
        "runs": runs,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench cluster", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--database", default=os.environ.get("FRONTDESK_DATABASE_URL", ""),
                        help="PostgreSQL URL (postgresql+asyncpg://...) of a database the bench may use")
    parser.add_argument("--instances", default="1,2,3", help="instance counts to run, e.g. 1,2,3")
    parser.add_argument("--traffic", type=float, default=6.0, help="seconds of dialling per run")
    parser.add_argument("--dial-every", type=float, default=0.2, help="seconds between two dials")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = parser.parse_args(list(argv or []))
    if not args.database.startswith("postgresql"):
        print("bench cluster needs a PostgreSQL database: --database postgresql+asyncpg://user@host/db", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.instances.split(",") if x.strip()]
    upgrade(args.database)  # (runs its own event loop)
    report = asyncio.run(measure(args.database, counts, args.traffic, args.dial_every))
    if not args.json:
        for run in report["runs"]:
            print(f"{run['instances']} instance(s): failover {run['failover_s']} s, {run['dials']} dials, "
                  f"{run['lost']} lost, {run['duplicated']} duplicated, {run['refused']} refused")
    print(json.dumps(report))
    return 0
