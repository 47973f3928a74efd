"""The mail part of ``frontdesk bench cluster``: one mailbox per instance, imported at once.

Does the email ingest scale with instances? Each mailbox is read by one instance (the
ownership's fair share spreads N mailboxes over N instances), so N instances should import
N mailboxes about N times as fast as one imports one — unless something they share (the
machine's cores, PostgreSQL) is the limit.

Before the instances start, a throw-away Dovecot gets one user per instance and each
user's ``Staging`` folder is filled with ``per_box`` generated customer mails (the email
bench's mix: Chinese, English, Spanish, attachments, replies). Once every instance owns
exactly one mailbox, every ``Staging`` is copied into its ``INBOX`` at once (one
``UID COPY`` each: the mail "arrives" in one instant) and the clock runs from the copies to
the moment PostgreSQL holds every mail (rows counted by Message-ID). Each instance's
reader sees the new mail by IDLE, fetches and parses it in batches and commits tickets.

Figures: ``email_per_s`` (all mail / time), each mailbox's rate, ``mailbox_owners`` (mailboxes
per instance: one each), ``email_cpu_percent`` (the whole machine, all cores, during the
import), each instance's CPU (its process and its workers) and the CPU of each part (the
instances, the bench database's PostgreSQL backends, Dovecot, the bench, everything else),
in percent of one core, to tell a latency-bound reader from a CPU-starved one;
``email_per_cpu_s`` (mails per CPU-second of the instances, PostgreSQL and Dovecot: what a
mail costs, whatever else runs on the machine); ``lost`` (a Message-ID never imported) and
``duplicated`` (one shown twice on a ticket).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import psutil
from sqlalchemy import func, select

from channels.bench import generate
from channels.dovecot import ThrowawayDovecot
from channels.imap import connect
from channels.records import MailMessage
from channels.settings import MailboxSettings
from config.cluster_processes import Cluster, Instance
from core.db import Database
from core.records import EntryKind, TimelineEntry

STAGING = "Staging"
SECRET = "bench-secret"


class MailLoad:
    """``count`` mailboxes, each with ``per_box`` mails waiting in its staging folder."""

    def __init__(self, count: int, per_box: int, batch: int = 200) -> None:
        self.count = count
        self.per_box = per_box
        self.run = uuid.uuid4().hex[:6]
        self.server = ThrowawayDovecot({f"mb{n}": SECRET for n in range(count)})
        self.boxes: list[MailboxSettings] = []
        self.batch = batch

    def prefix(self, n: int) -> str:
        return f"c{self.run}m{n}"

    async def prepare(self) -> None:
        """Start Dovecot and fill every staging folder (concurrently, one connection each)."""
        await asyncio.to_thread(self.server.start)
        # Names new to the database: a checkpoint of an earlier run is never picked up.
        self.boxes = [self.server.mailbox(f"mb{n}", name=f"bench-{self.run}-{n}", fetch_batch=self.batch)
                      for n in range(self.count)]
        await asyncio.gather(*(self._fill(n, box) for n, box in enumerate(self.boxes)))

    async def _fill(self, n: int, box: MailboxSettings) -> None:
        mails, _ = await asyncio.to_thread(generate, self.per_box, 7 + n, self.prefix(n))
        client = await connect(box)
        try:
            await client.create(STAGING)
            for raw in mails:
                response = await client.append(raw, mailbox=STAGING)
                if response.result != "OK":
                    raise RuntimeError(f"APPEND failed: {response}")
        finally:
            await client.logout()

    def settings(self) -> list[dict[str, Any]]:
        """The mailboxes as the instances' YAML configuration lists them."""
        return [{**box.model_dump(mode="json"), "password": SECRET} for box in self.boxes]

    async def _deliver(self, box: MailboxSettings) -> None:
        client = await connect(box)
        try:
            await client.select(STAGING)
            response = await client.uid("copy", "1:*", box.folder)
            if response.result != "OK":
                raise RuntimeError(f"COPY failed: {response}")
        finally:
            await client.logout()

    async def wait_spread(self, cluster: Cluster, within: float = 60.0) -> list[int]:
        """Until each live instance owns one mailbox (fewer instances: a fair share each)."""
        names = {f"mailbox:{box.name}" for box in self.boxes}
        owners: list[int] = []

        async def spread() -> bool:
            nonlocal owners
            owners = []
            for instance in cluster.alive():
                body = await cluster.readyz(instance)
                owners.append(len(names & set(body.get("owns", []))) if body else 0)
            share = -(-len(names) // max(1, len(owners)))
            return sum(owners) == len(names) and max(owners) <= share

        await cluster.until(spread, within=within, what=f"mailboxes spread over the instances (owners {owners})")
        return owners

    async def measure(self, db: Database, cluster: Cluster, within: float) -> dict[str, Any]:
        """Deliver every staging folder at once; time until every mail is in the database."""
        owners = await self.wait_spread(cluster)
        names = [box.name for box in self.boxes]
        async with db.session() as session:
            first_entry = int((await session.execute(select(func.max(TimelineEntry.id)))).scalar() or 0)
        processes = _processes(cluster.alive())
        cpu_before = {pid: _cpu_seconds(p) for pid, p in processes.items()}
        database = db.url.rsplit("/", 1)[-1].split("?", 1)[0]
        machine_before = self._cpu_by_part(cluster, database)
        psutil.cpu_percent(interval=None)
        started = time.perf_counter()
        await asyncio.gather(*(self._deliver(box) for box in self.boxes))
        delivered = time.perf_counter() - started
        done_at: dict[str, float] = {}
        counts: dict[str, int] = {}
        while len(done_at) < len(names) and time.perf_counter() - started < within:
            async with db.session() as session:
                rows = await session.execute(select(MailMessage.mailbox, func.count())
                                             .where(MailMessage.mailbox.in_(names)).group_by(MailMessage.mailbox))
                counts = {str(name): int(n) for name, n in rows}
            now = time.perf_counter() - started
            for name in names:
                if name not in done_at and counts.get(name, 0) >= self.per_box:
                    done_at[name] = now
            await asyncio.sleep(0.05)
        elapsed = max(done_at.values()) if len(done_at) == len(names) else time.perf_counter() - started
        cpu_percent = psutil.cpu_percent(interval=None)
        instance_cpu = [round((_cpu_seconds(p) - cpu_before[pid]) / elapsed * 100, 1) for pid, p in processes.items()]
        machine_after = self._cpu_by_part(cluster, database)
        by_part = dict.fromkeys(("instances", "postgres", "dovecot", "bench", "others"), 0.0)
        for pid, (part, seconds) in machine_after.items():
            by_part[part] += seconds - machine_before.get(pid, (part, 0.0))[1]
        imported = sum(counts.values())
        seen, shown = await self._check(db, first_entry)
        expected = [f"<{self.prefix(n)}-{i}@customers.example>" for n in range(self.count) for i in range(self.per_box)]
        return {
            "mailboxes": self.count,
            "mails_per_box": self.per_box,
            "fetch_batch": self.batch,
            "mailbox_owners": owners,
            "email_imported": imported,
            "email_seconds": round(elapsed, 3),
            "email_per_s": round(imported / elapsed, 1) if elapsed > 0 else None,
            "email_per_s_per_box": [round(self.per_box / done_at[n], 1) if n in done_at else None for n in names],
            "email_deliver_s": round(delivered, 3),
            "email_cpu_percent": cpu_percent,
            "email_instance_cpu_percent": instance_cpu,
            # percent of one core (the machine has psutil.cpu_count() of them) per part, over the import
            "email_cpu_percent_by_part": {part: round(seconds / elapsed * 100, 1) for part, seconds in by_part.items()},
            "cores": psutil.cpu_count(),
            # mails per CPU-second of what imports them (instances, their PostgreSQL backends,
            # Dovecot): on a shared machine the rate follows the CPU the others leave; this does not
            "email_per_cpu_s": _per(imported, by_part["instances"] + by_part["postgres"] + by_part["dovecot"]),
            "email_lost": sum(1 for mid in expected if mid not in seen),
            "email_duplicated": sum(n - 1 for n in shown.values() if n > 1) + sum(n - 1 for n in seen.values() if n > 1),
        }

    def _cpu_by_part(self, cluster: Cluster, database: str) -> dict[int, tuple[str, float]]:
        """Every process's CPU seconds so far, and what it is: an instance (or its worker), a
        PostgreSQL backend of the bench's database, this Dovecot, the bench, anything else."""
        instances = {i.process.pid for i in cluster.alive()}
        dovecot = self.server.process.pid if self.server.process is not None else -1
        me = psutil.Process().pid
        found: dict[int, tuple[str, float]] = {}
        for process in psutil.process_iter(["pid", "ppid", "cmdline", "cpu_times"]):
            info = process.info
            times = info.get("cpu_times")
            if times is None:
                continue
            part = "others"
            try:
                lineage = {info["pid"], *(p.pid for p in process.parents())}
            except psutil.Error:
                lineage = {info["pid"]}
            command = " ".join(info.get("cmdline") or [])
            if lineage & instances:
                part = "instances"
            elif dovecot in lineage:
                part = "dovecot"
            elif command.startswith("postgres:") and f" {database} " in command:
                part = "postgres"
            elif info["pid"] == me:
                part = "bench"
            found[info["pid"]] = (part, times.user + times.system)
        return found

    async def _check(self, db: Database, first_entry: int) -> tuple[Counter[str], Counter[str]]:
        """Message-IDs stored (mail rows) and shown on tickets (timeline entries) since the start."""
        like = f"<c{self.run}m%"
        async with db.session() as session:
            stored = Counter(str(mid) for mid in (await session.execute(
                select(MailMessage.message_id).where(MailMessage.message_id.like(like)))).scalars())
            payloads = (await session.execute(select(TimelineEntry.payload).where(
                TimelineEntry.id > first_entry, TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars()
            shown = Counter(str(p.get("message_id")) for p in payloads if str(p.get("message_id", "")).startswith(like[:-1]))
        return stored, shown

    def close(self) -> None:
        self.server.cleanup()


def _processes(instances: Sequence[Instance]) -> dict[int, psutil.Process]:
    """Each instance's process (its parse worker is a child, counted with it)."""
    found = {}
    for instance in instances:
        try:
            found[instance.process.pid] = psutil.Process(instance.process.pid)
        except psutil.Error:
            pass
    return found


def _cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds of the process and its children still running (the parse worker)."""
    total = 0.0
    try:
        for p in [process, *process.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def _per(mails: int, cpu_seconds: float) -> float | None:
    return round(mails / cpu_seconds, 1) if cpu_seconds > 0 else None


def summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mail figures of all runs: rate per instance count, and the scaling of the largest
    count over one instance (3 over 1 with the default counts)."""
    rates = {str(r["instances"]): r["email_per_s"] for r in runs if r.get("email_per_s") is not None}
    largest = max((r["instances"] for r in runs if str(r["instances"]) in rates), default=None)
    scaling = None
    if largest is not None and largest > 1 and rates.get("1"):
        scaling = round(rates[str(largest)] / rates["1"], 2)
    # What the machine could give at all: one instance (with its share of PostgreSQL, Dovecot and
    # the bench) took this fraction of every core, so no number of instances sharing those cores
    # can import more than 1/fraction times as fast, however well they share the work.
    one = next((r for r in runs if r["instances"] == 1 and r.get("email_cpu_percent")), None)
    ceiling = round(100 / one["email_cpu_percent"], 2) if one is not None else None
    return {
        "email_per_s": rates,
        "email_scaling": scaling,
        "email_scaling_machine_ceiling": ceiling,
        "email_per_cpu_s": {str(r["instances"]): r.get("email_per_cpu_s") for r in runs if "email_per_cpu_s" in r},
        "email_lost": sum(r.get("email_lost", 0) for r in runs),
        "email_duplicated": sum(r.get("email_duplicated", 0) for r in runs),
    }
