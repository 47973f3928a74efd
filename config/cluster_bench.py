"""``frontdesk bench cluster --json --database postgresql+asyncpg://...``: pops across instances, fail-over.

For 1, 2 and 3 real ``frontdesk serve`` instances on one PostgreSQL database, with the AMI
simulator as the PBX. First ``--agents`` agents per instance connect to ``/ws`` with API
tokens, spread over all instances (``agents_ws``: sockets that answered a ping, per
instance). Then the simulator rings one agent's phone ``--rings`` times, one call after the
other, each an agent connected to an instance that does NOT own the PBX link (with one
instance: the owner itself, the baseline): ``pop_*_ms`` is from the simulator writing the
ring (``AgentCalled``) to the ``cti.pop`` frame on that agent's socket — the owner's tracker,
screen-pop lookup, the cluster bus (PostgreSQL NOTIFY), the other instance's live hub.
``event_lag_*_ms`` is what the receiving instances' ``frontdesk_cluster_event_lag_seconds``
histograms (their ``/metrics``) recorded over the rings: publish on one instance → delivered
on another (bucket-interpolated, as Prometheus' ``histogram_quantile``; the wire's send time
is in whole milliseconds, so it reads up to 1 ms high).

Last, an agent clicks to dial every ``--dial-every`` seconds through an instance that does
not run the link (relayed to the owner, ``cti.relay``); the owner is killed with SIGKILL
mid-traffic. Measured: ``failover_s`` (kill → another instance owns the link and it is
logged in), ``lost`` (dials the agent was told succeeded that never reached the PBX),
``duplicated`` (Originates the PBX received more than once; must be 0), and ``refused``
(dials reported failed to the agent: in flight at the kill, never re-sent). With one
instance nothing takes over: it shows the baseline without a kill.

Before the kill, unless ``--mails 0``: one mailbox per instance, each pre-filled with
``--mails`` mails, imported at once (``config.cluster_mail_bench``): ``email_per_s`` per
instance count, ``email_scaling`` (3 instances over 1), ``email_lost``/``email_duplicated``
(counted in ``lost``/``duplicated`` too), and ``email_scaling_machine_ceiling``: the most any
number of instances could gain on this machine's cores, from the share of them one instance took.

``--instance-cpu CORES`` holds each instance to that many cores (``config.cpu_budget``: a
cgroup CPU quota, as root), as if each ran on its own small machine: with fewer cores than
instances, the unlimited runs measure the machine, the budgeted ones how the instances share work.
Read the mail figures of a budgeted run: its pop tails show the quota's pauses (an instance
that spent its share of a 100 ms period waits for the next; a 10 ms period was tried and made
both the pauses and the mail rate worse, the instance's template workers sharing its quota).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
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

from channels.sink import MailSink
from config.cluster_mail_bench import MailLoad, summary
from config.cluster_processes import Cluster, CountingPbx, Instance
from config.cpu_budget import CpuBudget, CpuBudgetUnavailable
from core.db import Database
from core.migrate import upgrade
from core.records import User
from core.users import add_user, new_api_token
from cti.scenarios import QueueCall


@dataclasses.dataclass(slots=True)
class BenchAgent:
    """An agent of the pop measure: their phone (the interface the simulator rings) and API token."""

    user_id: int
    interface: str
    token: str


async def _tokens(database_url: str, agents: int) -> tuple[str, list[BenchAgent]]:
    """The dialling agent's token, and ``agents`` agents with their own phones and tokens.

    The agents are kept from run to run (rows, not argon2 hashes: nobody signs in with a
    password); each run issues fresh tokens."""
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            user = (await session.execute(select(User).where(User.login == "bench-agent"))).scalar()
            if user is None:
                user = await add_user(session, "bench-agent", "bench-password", "Bench agent", ["agent"], extension="1001")
            token, _ = await new_api_token(session, user, f"cluster bench {uuid.uuid4().hex[:6]}")
            logins = [f"bench-ws-{n}" for n in range(agents)]
            have = {u.login: u for u in (await session.execute(select(User).where(User.login.in_(logins)))).scalars()}
            for n, login in enumerate(logins):
                if login not in have:
                    extension = f"{70000 + n}"
                    have[login] = User(login=login, password_hash="!", display_name=f"WS agent {n}", roles=["agent"],
                                       extension=extension, pbx_interface=f"PJSIP/{extension}", active=True)
                    session.add(have[login])
            await session.flush()
            out = []
            for login in logins:
                agent = have[login]
                agent_token, _ = await new_api_token(session, agent, f"cluster bench {uuid.uuid4().hex[:6]}")
                out.append(BenchAgent(agent.id, agent.pbx_interface or "", agent_token))
        return token, out
    finally:
        await db.close()


def _quantile(sorted_ms: Sequence[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return round(sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))], 2)


WARMUP_RINGS = 5
LAG_METRIC = "frontdesk_cluster_event_lag_seconds"


async def _lag_buckets(cluster: Cluster, instance: Instance) -> dict[float, float]:
    """The instance's event-lag histogram: cumulative count per upper bound (seconds)."""
    async with cluster.http.get(f"{instance.url}/metrics") as resp:
        text = await resp.text()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(f"{LAG_METRIC}_bucket{{"):
            labels, value = line.rsplit(" ", 1)
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(value)
    return buckets


def _histogram_quantile(buckets: dict[float, float], q: float) -> float | None:
    """Prometheus' ``histogram_quantile`` (linear within the bucket), in milliseconds."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return round(lower * 1000, 2)
            inside = buckets[bound] - below
            fraction = (rank - below) / inside if inside > 0 else 1.0
            return round((lower + (bound - lower) * fraction) * 1000, 2)
        lower, below = bound, buckets[bound]
    return None


async def _connect_agents(cluster: Cluster, http: aiohttp.ClientSession, agents: Sequence[BenchAgent],
                          instances: Sequence[Instance]) -> list[tuple[BenchAgent, Instance, aiohttp.ClientWebSocketResponse]]:
    """Each agent's ``/ws`` on the next instance (round robin); only sockets that answer a ping count."""
    sockets = []
    for n, agent in enumerate(agents):
        instance = instances[n % len(instances)]
        ws = await http.ws_connect(f"{instance.url}/ws", headers={"Authorization": f"Bearer {agent.token}"})
        sockets.append((agent, instance, ws))
    for _agent, _instance, ws in sockets:
        await ws.send_str("ping")
    connected = []
    for agent, instance, ws in sockets:
        try:
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                if json.loads(msg.data).get("event") == "pong":
                    connected.append((agent, instance, ws))
                    break
        except TimeoutError:
            pass
    return connected


async def _pops(pbx: CountingPbx, cluster: Cluster, owner: Instance,
                sockets: Sequence[tuple[BenchAgent, Instance, aiohttp.ClientWebSocketResponse]],
                rings: int) -> dict[str, Any]:
    """``rings`` calls, one after the other, each ringing one agent on a non-owner instance
    (the owner with one instance): ring written by the simulator → ``cti.pop`` on their socket."""
    targets = [s for s in sockets if s[1] is not owner] or list(sockets)
    receivers = sorted({s[1].index: s[1] for s in targets}.values(), key=lambda i: i.index)
    waiting: dict[str, asyncio.Future[float]] = {}
    ringing: dict[str, asyncio.Future[float]] = {}
    pops: Counter[str] = Counter()

    async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT or ('"cti.pop"' not in msg.data and '"call.ringing"' not in msg.data):
                continue
            received = time.perf_counter()
            frame = json.loads(msg.data)
            linkedid = str(frame["data"].get("linkedid", ""))
            table = waiting if frame["event"] == "cti.pop" else ringing if frame["event"] == "call.ringing" else None
            if table is None:
                continue
            if table is waiting:
                pops[linkedid] += 1
            future = table.get(linkedid)
            if future is not None and not future.done():
                future.set_result(received)

    listeners = [asyncio.create_task(listen(ws)) for _a, _i, ws in targets]
    pop_ms: list[float] = []
    ring_ms: list[float] = []
    missed = 0
    loop = asyncio.get_running_loop()

    async def ring_once(n: int) -> tuple[float | None, float | None]:
        """One call rung and, once popped (or after 5 s), answered and hung up: (pop ms, call.ringing ms)."""
        agent = targets[n % len(targets)][0]
        call = QueueCall(f"+1415555{n % 10000:04d}", queue="support", ring=[agent.interface],
                         answered_by=agent.interface, ring_s=1.0, talk_s=0.0)
        steps = call.steps()
        linkedid = steps[0].frame["Linkedid"]
        ring = [step for step in steps if step.at < 1.0]
        waiting[linkedid] = loop.create_future()
        ringing[linkedid] = loop.create_future()
        written = time.perf_counter()
        for step in ring:
            pbx.emit(step.frame)
        await pbx.drain()
        pop: float | None = None
        with contextlib.suppress(TimeoutError):
            pop = (await asyncio.wait_for(waiting[linkedid], 5.0) - written) * 1000
        shown = (ringing[linkedid].result() - written) * 1000 if ringing[linkedid].done() else None
        for step in steps[len(ring):]:  # answered and hung up: the call does not stay in the tracker
            pbx.emit(step.frame)
        await pbx.drain()
        await asyncio.sleep(0.02)
        return pop, shown

    try:
        # Not counted: the first rings of a process load the phone-number metadata and warm
        # the database connections and statements (one-off costs, not the steady state).
        for n in range(WARMUP_RINGS):
            await ring_once(n)
        await asyncio.sleep(0.3)
        before = {i.index: await _lag_buckets(cluster, i) for i in receivers}
        for n in range(WARMUP_RINGS, WARMUP_RINGS + rings):
            pop, shown = await ring_once(n)
            if pop is None:
                missed += 1
            else:
                pop_ms.append(pop)
            if shown is not None:
                ring_ms.append(shown)
        await asyncio.sleep(0.3)  # the last hang-ups' events reach the other instances
    finally:
        for task in listeners:
            task.cancel()
    after = {i.index: await _lag_buckets(cluster, i) for i in receivers}
    lag: dict[float, float] = {}
    for index, buckets in after.items():
        for bound, count in buckets.items():
            lag[bound] = lag.get(bound, 0.0) + count - before[index].get(bound, 0.0)
    pop_ms.sort()
    ring_ms.sort()
    return {
        "cross_instance": any(s[1] is not owner for s in targets),
        "rings": rings,
        "warmup_rings": WARMUP_RINGS,
        "pops": len(pop_ms),
        "pops_missed": missed,
        "pops_duplicated": sum(1 for n in pops.values() if n > 1),
        "pop_p50_ms": _quantile(pop_ms, 0.5),
        "pop_p90_ms": _quantile(pop_ms, 0.9),
        "pop_p99_ms": _quantile(pop_ms, 0.99),
        "ringing_p99_ms": _quantile(ring_ms, 0.99),
        "event_lag_count": int(max(lag.values(), default=0)),
        "event_lag_p50_ms": _histogram_quantile(lag, 0.5),
        "event_lag_p99_ms": _histogram_quantile(lag, 0.99),
    }


async def _link_up(cluster: Cluster, instance: Instance) -> bool:
    body = await cluster.readyz(instance)
    return body is not None and "connected" in body["components"].get("pbx:bench", {}).get("detail", "")


async def run_one(database_url: str, count: int, traffic_s: float, dial_every: float, workdir: Path,
                  agents: int = 0, rings: int = 0, mails: int = 0, mail_batch: int = 200,
                  mail_timeout: float = 300.0, budget: CpuBudget | None = None) -> dict[str, Any]:
    pbx = CountingPbx()
    await pbx.start()
    token, bench_agents = await _tokens(database_url, agents * count)
    load = MailLoad(count, mails, mail_batch) if mails > 0 else None
    sink: MailSink | None = None
    if load is not None:
        await load.prepare()
        # The acknowledgements are sent once, as to a working MTA (none listening: each would
        # fail and be built again on every retry, load that a real site does not have).
        sink = await MailSink().start()
    config = {
        "database_url": database_url,
        "log_level": "WARNING",
        "web": {"secret_key": uuid.uuid4().hex * 2},
        "pbx": [{"name": "bench", "port": pbx.port, "username": "bench", "secret": "bench-secret",
                 "ping_interval": 1.0, "action_timeout": 2.0, "reconnect_max_s": 0.5}],
        "mailboxes": load.settings() if load is not None else [],
        **({"smtp": {"host": "127.0.0.1", "port": sink.port}} if sink is not None else {}),
    }
    dials: list[tuple[int, dict[str, Any]]] = []
    # others' work on the machine skews the tails (all instances and the bench share its cores)
    result: dict[str, Any] = {"instances": count, "load_1m_before": round(os.getloadavg()[0], 2)}
    try:
        async with Cluster(config, workdir, budget) as cluster:
            started = time.monotonic()
            [first] = cluster.start(1)
            await cluster.wait_ready([first])
            owner = await cluster.wait_owner("pbx:bench", within=30)
            if count > 1:
                await cluster.wait_ready(cluster.start(count - 1))
            result["ready_s"] = round(time.monotonic() - started, 2)
            asker = next((i for i in cluster.alive() if i is not owner), owner)
            if bench_agents:
                # no pool limit: aiohttp's default of 100 connections would hold back the 101st socket
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                 timeout=aiohttp.ClientTimeout(total=None, connect=20)) as ws_http:
                    sockets = await _connect_agents(cluster, ws_http, bench_agents, cluster.alive())
                    result["agents_ws"] = [sum(1 for s in sockets if s[1] is i) for i in cluster.alive()]
                    if rings and sockets:
                        result.update(await _pops(pbx, cluster, owner, sockets, rings))
                    for _agent, _instance, ws in sockets:
                        await ws.close()
            if load is not None:
                db = Database(database_url)
                try:
                    result.update(await load.measure(db, cluster, mail_timeout))
                finally:
                    await db.close()

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
        if load is not None:
            load.close()
        if sink is not None:
            result["email_acknowledgements_sent"] = len(sink.messages)
            await sink.stop()
    result["load_1m_after"] = round(os.getloadavg()[0], 2)
    told_ok = [body["linkedid"] for status, body in dials if status == 200]
    result.update({
        "dials": len(dials),
        "refused": sum(1 for status, _ in dials if status != 200),
        "lost": sum(1 for linkedid in told_ok if pbx.originated[linkedid] == 0) + result.get("email_lost", 0),
        "duplicated": sum(1 for n in pbx.originated.values() if n > 1) + result.get("email_duplicated", 0),
    })
    return result


async def measure(database_url: str, counts: Sequence[int], traffic_s: float, dial_every: float,
                  agents: int = 0, rings: int = 0, mails: int = 0, mail_batch: int = 200,
                  instance_cpu: float = 0.0) -> dict[str, Any]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="frontdesk-cluster-bench-") as tmp:
        for count in counts:
            workdir = Path(tmp) / f"n{count}"
            workdir.mkdir()
            budget = CpuBudget(instance_cpu) if instance_cpu else None
            try:
                run = await run_one(database_url, count, traffic_s, dial_every, workdir, agents, rings,
                                    mails, mail_batch, budget=budget)
                if budget is not None:  # seconds the instances wanted more CPU than their budget
                    run.update({"instance_cpu": instance_cpu, "throttled_s": budget.throttled_s()})
            finally:
                if budget is not None:
                    budget.close()
            runs.append(run)
    failovers = [r["failover_s"] for r in runs if r["failover_s"] is not None]
    cross = [r for r in runs if r.get("cross_instance")]

    def worst(key: str) -> float | None:
        values = [r[key] for r in cross if r.get(key) is not None]
        return max(values) if values else None

    return {
        "instances": list(counts),
        "instance_cpu": instance_cpu or None,  # cores each instance was held to (None: unlimited, sharing the machine)
        "agents_ws": agents,
        "pop_p50_ms_cross_instance": worst("pop_p50_ms"),
        "pop_p99_ms_cross_instance": worst("pop_p99_ms"),
        "pops_missed": sum(r.get("pops_missed", 0) for r in runs),
        "event_lag_p50_ms": worst("event_lag_p50_ms"),
        "event_lag_p99_ms": worst("event_lag_p99_ms"),
        "failover_s": max(failovers) if failovers else None,
        "lost": sum(r["lost"] for r in runs),
        "duplicated": sum(r["duplicated"] for r in runs),
        **(summary(runs) if mails > 0 else {}),
        "runs": runs,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench cluster", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--database", default=os.environ.get("FRONTDESK_DATABASE_URL", ""),
                        help="PostgreSQL URL (postgresql+asyncpg://...) of a database the bench may use")
    parser.add_argument("--instances", default="1,2,3", help="instance counts to run, e.g. 1,2,3")
    parser.add_argument("--traffic", type=float, default=6.0, help="seconds of dialling per run")
    parser.add_argument("--dial-every", type=float, default=0.2, help="seconds between two dials")
    parser.add_argument("--agents", type=int, default=50, help="agents connected to /ws per instance")
    parser.add_argument("--rings", type=int, default=200, help="calls rung one after the other per run (pop latency)")
    parser.add_argument("--mails", type=int, default=1000,
                        help="mails per mailbox (one mailbox per instance) for email_per_s; 0 skips the mail part")
    parser.add_argument("--mail-batch", type=int, default=200, help="the mailboxes' fetch_batch (messages fetched and committed together)")
    parser.add_argument("--instance-cpu", type=float, default=0.0,
                        help="hold each instance to this many cores (a cgroup CPU quota, as root), e.g. 0.5: "
                             "scaling as if each instance had its own share of a machine; 0: unlimited")
    parser.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = parser.parse_args(list(argv or []))
    if args.instance_cpu:
        try:
            CpuBudget(args.instance_cpu)
        except CpuBudgetUnavailable as exc:
            print(f"--instance-cpu: {exc}", file=sys.stderr)
            return 2
    if not args.database.startswith("postgresql"):
        print("bench cluster needs a PostgreSQL database: --database postgresql+asyncpg://user@host/db", file=sys.stderr)
        return 2
    counts = [int(x) for x in args.instances.split(",") if x.strip()]
    upgrade(args.database)  # (runs its own event loop)
    report = asyncio.run(measure(args.database, counts, args.traffic, args.dial_every, args.agents, args.rings,
                                 args.mails, args.mail_batch, args.instance_cpu))
    if not args.json:
        for run in report["runs"]:
            print(f"{run['instances']} instance(s): {run.get('agents_ws')} agents on /ws, pop p50/p99 "
                  f"{run.get('pop_p50_ms')}/{run.get('pop_p99_ms')} ms (cross instance: {run.get('cross_instance')}), "
                  f"event lag p99 {run.get('event_lag_p99_ms')} ms, failover {run['failover_s']} s, {run['dials']} dials, "
                  f"{run['lost']} lost, {run['duplicated']} duplicated, {run['refused']} refused")
            if "email_per_s" in run:
                print(f"    mail: {run['email_per_s']}/s over {run['mailboxes']} mailbox(es) (owners {run['mailbox_owners']}, "
                      f"per box {run['email_per_s_per_box']}), machine CPU {run['email_cpu_percent']}%, instances' CPU "
                      f"{run['email_instance_cpu_percent']}% of a core (by part {run['email_cpu_percent_by_part']}), {run['email_lost']} lost, "
                      f"{run['email_duplicated']} duplicated")
    print(json.dumps(report))
    return 0
