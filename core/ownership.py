"""One owner per PBX link and per mailbox across server instances: advisory locks, fail-over.

Several instances on one PostgreSQL must never run two AMI links to one PBX, nor two
readers of one mailbox. Each named resource (``"pbx:main"``, ``"mailbox:support"``) is
owned by the instance holding a PostgreSQL *session-level* advisory lock named after it.
The locks live on one dedicated connection of this instance, outside the pool (a pooled
connection would keep a lock after its user is done with it); PostgreSQL frees them the
moment that connection ends, which is what fail-over rests on:

- the owner is killed (``kill -9``): the kernel closes its socket, PostgreSQL ends the
  session, the locks are free; a standby, trying again every ``retry_max_s`` at most,
  takes over within about that long;
- the owner loses the database (network drop, PostgreSQL restarted): its watchdog pings
  the lock connection every ``watch_s`` and, on the first failure, stops everything it
  owns at once, before PostgreSQL can notice the dead session and let another instance
  in (the session is told to probe its client by TCP keepalive, so that happens within
  seconds too, not after the kernel's two hours).

On SQLite there is one instance by definition: it owns everything, with no lock.

``Ownership.owned(resource, body)`` turns a supervised body into one that runs only while
this instance owns the resource (standing by, healthy, otherwise) and is cancelled the
moment the ownership is lost.

Fair share: three mailboxes on three instances should be read by three processes, not all
by the first one started. Every instance that wants resources is a *member*: it holds a
shared advisory lock on its lock connection, so PostgreSQL counts the live members
(``pg_locks``) and forgets a dead one with its session. An instance claims a resource of a
kind (``mailbox``, ``pbx``) only while it holds fewer than its share of that kind,
``ceil(wanted / members)``; one holding more mailboxes than its share (it started first, or a
member joined) hands one over at a time, cleanly (unlock; the taker continues from the
committed checkpoint); PBX links are not handed over (a link would drop). When a member dies the share grows and the standbys take its resources, so
fail-over is unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
from collections import Counter as Tally
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge
from sqlalchemy.engine import make_url

from core.cluster_settings import default_instance_id
from core.db import Database
from core.supervisor import SupervisedTask

log = logging.getLogger(__name__)

OWNED = Gauge("frontdesk_owned", "1 while this instance owns the resource (PBX link, mailbox)", ["resource"])
TAKEOVERS = Counter("frontdesk_ownership_acquired_total", "Times this instance became the owner of a resource", ["resource"])
LOSSES = Counter("frontdesk_ownership_lost_total", "Times this instance lost a resource it owned (database link lost)", ["resource"])
HANDOVERS = Counter("frontdesk_ownership_handed_over_total",
                    "Times this instance gave a resource up for another instance's fair share", ["resource"])
LOCK_LINK_LOSSES = Counter("frontdesk_ownership_link_lost_total", "Times the advisory-lock connection was lost")

Body = Callable[[SupervisedTask], Awaitable[None]]

# PostgreSQL settings of the lock session: it notices a vanished client within seconds
# (idle 2 s, then probes 1 s apart, 3 of them), so a cut-off owner's locks come free.
LOCK_SESSION_SETTINGS = {
    "application_name": "frontdesk-ownership",
    "tcp_keepalives_idle": "2",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
}


class OwnershipLost(Exception):
    """The lock connection went away: whatever this instance owned, it no longer does."""


def lock_key(resource: str) -> int:
    """A stable signed 64-bit advisory-lock key for a resource name such as ``mailbox:support``."""
    return int.from_bytes(hashlib.sha256(f"frontdesk-{resource}".encode()).digest()[:8], "big", signed=True)


# The members' shared lock, in the two-integer key space (``pg_locks.objsubid = 2``), which
# never meets the resources' 64-bit keys (``objsubid = 1``). Positive, so it reads the same
# as ``pg_locks.classid`` (an unsigned oid).
MEMBERS_KEY = (int.from_bytes(hashlib.sha256(b"frontdesk-members").digest()[:4], "big") & 0x7FFFFFFF, 0)
MEMBERS_SQL = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
    " AND classid = $1::bigint::oid AND objid = $2::bigint::oid"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


# Kinds given up to rebalance when a member joins. A mailbox's reader stops cleanly and the
# taker continues from the committed checkpoint; a PBX link would drop for a second, with the
# pops of calls ringing meanwhile late, so PBX links are only spread as instances claim them.
HANDED_OVER_KINDS = frozenset({"mailbox"})


def kind_of(resource: str) -> str:
    """``mailbox`` for ``mailbox:support``: shares are counted per kind of resource."""
    return resource.split(":", 1)[0]


def fair_share(wanted: int, members: int) -> int:
    """How many of ``wanted`` resources of one kind one of ``members`` instances may hold."""
    return math.ceil(wanted / max(1, members))


class Ownership:
    """This instance's claims on named resources, held on one dedicated lock connection."""

    def __init__(
        self,
        db: Database,
        instance: str | None = None,
        retry_initial_s: float = 0.25,
        retry_max_s: float = 1.0,
        watch_s: float = 0.5,
        ping_timeout_s: float = 1.5,
    ) -> None:
        self.db = db
        self.instance = instance or default_instance_id()
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.watch_s = watch_s
        self.ping_timeout_s = ping_timeout_s
        self.held: dict[str, asyncio.Event] = {}  # resource -> set when its ownership is lost
        self.acquired = 0  # ownerships taken (the first one and every fail-over)
        self.lost = 0
        self._conn: Any = None  # asyncpg.Connection, PostgreSQL only
        self._conn_lock = asyncio.Lock()  # one query at a time on the lock connection
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._claimants = 0  # owned bodies running or standing by: the lock connection stays open for them
        self.wanted: Tally[str] = Tally()  # resource -> owned bodies claiming it (the fair share's count)
        self.members = 1  # live instances wanting resources, as last counted
        self._handing_over: set[str] = set()  # resources being given up for another's fair share
        self.handed_over = 0

    @property
    def single_instance(self) -> bool:
        return self.db.is_sqlite

    def owns(self) -> list[str]:
        """The resources this instance owns now (for /readyz)."""
        return sorted(r for r, lost in self.held.items() if not lost.is_set())

    @property
    def session_pid(self) -> int | None:
        """The PostgreSQL backend holding this instance's locks (operators: pg_stat_activity)."""
        conn = self._conn
        return None if conn is None or conn.is_closed() else int(conn.get_server_pid())

    # -- the lock connection -------------------------------------------------------------
    async def _connection(self) -> Any:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        url = make_url(self.db.url).set(drivername="postgresql")
        self._conn = await asyncpg.connect(
            url.render_as_string(hide_password=False), timeout=self.ping_timeout_s * 2, server_settings=LOCK_SESSION_SETTINGS
        )
        self._conn.add_termination_listener(lambda _conn: self._link_lost("connection closed"))
        # A member from now on, for as long as this session lives (the fair share counts it).
        await self._conn.fetchval("SELECT pg_try_advisory_lock_shared($1::int4, $2::int4)", *MEMBERS_KEY)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name="ownership-watchdog")
        return self._conn

    async def _query(self, sql: str, *args: Any) -> Any:
        async with self._conn_lock:
            conn = await self._connection()
            return await asyncio.wait_for(conn.fetchval(sql, *args), self.ping_timeout_s)

    def _link_lost(self, why: str) -> None:
        """Every ownership ends now: the link is gone, PostgreSQL will free the locks."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        self._handing_over.clear()
        if not self.held:
            return
        LOCK_LINK_LOSSES.inc()
        for resource, lost in self.held.items():
            if not lost.is_set():
                log.warning("ownership of %s lost (%s): stopping it now", resource, why)
                lost.set()
                self.lost += 1
                LOSSES.labels(resource).inc()
                OWNED.labels(resource).set(0)

    async def _watch(self) -> None:
        """Ping the lock connection while anything is held; the first failure ends every ownership.

        The ping counts the members: holding more than its share of a kind while the same
        count was seen twice in a row (not a member passing through a restart), this
        instance hands one resource of that kind over per tick."""
        previous = 0
        while not self._closed:
            await asyncio.sleep(self.watch_s)
            if not any(not lost.is_set() for lost in self.held.values()):
                previous = 0
                continue
            try:
                members = await self.count_members()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._link_lost(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                previous = 0
                continue
            if members == previous:
                self._hand_over_surplus(members)
            previous = members

    async def count_members(self) -> int:
        """Live instances wanting resources on this database (this one included)."""
        if self.single_instance:
            return 1
        self.members = max(1, int(await self._query(MEMBERS_SQL, *MEMBERS_KEY)))
        return self.members

    def _owned_of(self, kind: str) -> list[str]:
        return [r for r, lost in self.held.items() if not lost.is_set() and kind_of(r) == kind]

    def within_share(self, resource: str, members: int) -> bool:
        """May this instance claim ``resource`` with ``members`` live instances?"""
        kind = kind_of(resource)
        wanted = sum(1 for r in self.wanted if kind_of(r) == kind) or 1
        return len(self._owned_of(kind)) < fair_share(wanted, members)

    def _hand_over_surplus(self, members: int) -> None:
        """Give up one resource of each kind this instance holds more than its share of."""
        for kind in sorted({kind_of(r) for r in self.wanted} & HANDED_OVER_KINDS):
            owned = self._owned_of(kind)
            wanted = sum(1 for r in self.wanted if kind_of(r) == kind)
            if len(owned) <= fair_share(wanted, members):
                continue
            resource = owned[-1]  # the last taken: what this instance held longest keeps running
            log.info("instance %s hands %s over (%d of %d %s resources, %d instances)",
                     self.instance, resource, len(owned), wanted, kind, members)
            self._handing_over.add(resource)
            self.handed_over += 1
            HANDOVERS.labels(resource).inc()
            self.held[resource].set()  # the owned body stops, then unlocks (``release``)

    # -- claiming --------------------------------------------------------------------------
    async def try_acquire(self, resource: str) -> asyncio.Event | None:
        """Take ``resource`` if free; the returned event is set when the ownership is lost."""
        current = self.held.get(resource)
        if current is not None and not current.is_set():
            return current  # already ours (an advisory lock would count twice)
        if not self.single_instance:
            try:
                got = await self._query("SELECT pg_try_advisory_lock($1)", lock_key(resource))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                self._link_lost(f"{type(exc).__name__}: {exc}")
                raise OwnershipLost(f"cannot reach the database to claim {resource}: {exc}") from exc
            if not got:
                return None
        lost = asyncio.Event()
        self.held[resource] = lost
        self.acquired += 1
        TAKEOVERS.labels(resource).inc()
        OWNED.labels(resource).set(1)
        log.info("instance %s now owns %s", self.instance, resource)
        return lost

    async def release(self, resource: str) -> None:
        """Give ``resource`` up (a clean stop): another instance may take it at once.

        The owner of a supervised ``owned`` task calls this after stopping it: a task stopped
        during its backoff (the PBX down) still holds the resource."""
        lost = self.held.pop(resource, None)
        OWNED.labels(resource).set(0)
        handing_over = resource in self._handing_over
        self._handing_over.discard(resource)
        if lost is not None and (not lost.is_set() or handing_over) and not self.single_instance:
            lost.set()
            try:
                await self._query("SELECT pg_advisory_unlock($1)", lock_key(resource))
            except Exception as exc:  # the lock dies with the connection anyway
                self._link_lost(f"unlock failed: {exc}")
        if not self.held and not self._claimants:
            await self._disconnect()  # nothing owned or wanted: no connection kept open

    async def wait_for(self, resource: str, task: SupervisedTask | None = None) -> asyncio.Event:
        """Stand by until this instance owns ``resource``, retrying with a short capped backoff;
        claimed only within this instance's fair share of its kind."""
        delay = self.retry_initial_s
        while True:
            try:
                lost = await self.try_acquire(resource) if await self._may_claim(resource) else None
            except OwnershipLost as exc:
                if task is not None:
                    task.unhealthy(str(exc))
                lost = None
            if lost is not None:
                return lost
            if task is not None and self._conn is not None:
                task.healthy(f"standby: another instance owns {resource}")
            await asyncio.sleep(delay * random.uniform(0.8, 1.0))
            delay = min(self.retry_max_s, delay * 2)

    async def _may_claim(self, resource: str) -> bool:
        if self.single_instance or resource in self.held:
            return True
        try:
            members = await self.count_members()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            self._link_lost(f"{type(exc).__name__}: {exc}")
            raise OwnershipLost(f"cannot reach the database to claim {resource}: {exc}") from exc
        return self.within_share(resource, members)

    def owned(self, resource: str, body: Body) -> Body:
        """``body`` run only while this instance owns ``resource``; cancelled when that ends.
        Handed over for another instance's fair share, it stands by again."""

        async def run(task: SupervisedTask) -> None:
            self._claimants += 1
            self.wanted[resource] += 1
            try:
                while True:
                    lost = await self.wait_for(resource, task)
                    if not await self._run_owned(resource, lost, body, task):
                        return
            finally:
                self._claimants -= 1
                self.wanted[resource] -= 1
                if self.wanted[resource] <= 0:
                    del self.wanted[resource]
                if not self._claimants and not self.held:
                    await self._disconnect()  # nothing owned or wanted: no connection kept open

        return run

    async def _run_owned(self, resource: str, lost: asyncio.Event, body: Body, task: SupervisedTask) -> bool:
        """Run ``body`` while owning; a body that fails (the PBX or IMAP server down) keeps the
        ownership through the supervisor's backoff, so instances do not pass a dead link round;
        it is given up when the ownership is lost or the task is stopped. True: handed over
        for another instance's fair share (stand by again)."""
        work = asyncio.ensure_future(body(task))
        watch = asyncio.create_task(lost.wait())
        keep = False
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                keep = not lost.is_set()
                work.result()  # its error, for the supervisor to log and back off
                return False
            if resource in self._handing_over:
                return True
            raise OwnershipLost(f"lost ownership of {resource}: database link lost")
        finally:
            watch.cancel()
            if not work.done():
                work.cancel()
                await asyncio.wait({work})
            if not keep:
                await self.release(resource)

    async def close(self) -> None:
        self._closed = True
        for resource in list(self.held):
            await self.release(resource)
        await self._disconnect()

    async def _disconnect(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
            await asyncio.wait({watchdog})
        async with self._conn_lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                try:
                    await asyncio.wait_for(conn.close(), 2)
                except Exception:
                    conn.terminate()
