"""One owner per PBX link and mailbox across instances: advisory locks, watchdog, fail-over."""

from __future__ import annotations

import asyncio
import time

import pytest
from cti_fixtures import until
from sqlalchemy import text

from config.services import Services
from core.db import Database
from core.health import HealthRegistry
from core.ownership import Ownership
from core.supervisor import Backoff, SupervisedTask


@pytest.mark.sqlite_only
async def test_on_sqlite_the_single_instance_owns_everything(services: Services) -> None:
    ownership = Ownership(services.db)
    assert await ownership.try_acquire("pbx:main") is not None
    assert await ownership.try_acquire("mailbox:support") is not None
    assert ownership.owns() == ["mailbox:support", "pbx:main"]
    await ownership.close()
    assert ownership.owns() == []


@pytest.mark.postgres_only
async def test_a_stopped_owner_lets_another_instance_take_the_mailbox(services: Services) -> None:
    other_db = Database(services.db.url)
    first, second = Ownership(services.db, "a"), Ownership(other_db, "b")
    try:
        assert await first.try_acquire("mailbox:support") is not None
        assert await second.try_acquire("mailbox:support") is None  # a standby, not a second reader
        assert await second.try_acquire("pbx:main") is not None  # other resources are free
        await first.release("mailbox:support")
        # The lock connection is still open, yet the mailbox is free.
        assert await second.try_acquire("mailbox:support") is not None
        assert await first.try_acquire("mailbox:support") is None
        assert second.owns() == ["mailbox:support", "pbx:main"]
    finally:
        await first.close()
        await second.close()
        await other_db.close()


async def _lock_sessions(db: Database) -> list[int]:
    async with db.session() as session:
        rows = await session.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'frontdesk-ownership' "
            "AND datname = current_database()"))
        return [r[0] for r in rows]


@pytest.mark.postgres_only
async def test_a_lost_lock_connection_stops_the_owned_work_at_once_and_one_instance_takes_over(services: Services) -> None:
    other_db = Database(services.db.url)
    owner, standby = Ownership(services.db, "a"), Ownership(other_db, "b")
    running: dict[str, int] = {"a": 0, "b": 0}
    most = [0]

    def work(name: str):  # type: ignore[no-untyped-def]
        async def body(task: SupervisedTask) -> None:
            running[name] += 1
            most[0] = max(most[0], running["a"] + running["b"])  # links at once, seen as each starts
            task.healthy("reading")
            try:
                await asyncio.Event().wait()
            finally:
                running[name] -= 1
        return body

    health = HealthRegistry()
    a = SupervisedTask("pbx:main", owner.owned("pbx:main", work("a")), health, Backoff(0.1, 0.5))
    a.start()
    await until(lambda: running["a"] == 1)
    b = SupervisedTask("pbx:main", standby.owned("pbx:main", work("b")), HealthRegistry(), Backoff(0.1, 0.5))
    b.start()
    try:
        await asyncio.sleep(1.5)
        assert running == {"a": 1, "b": 0}, "never two links to one PBX"
        assert health.get("pbx:main") is not None
        # The database ends the owner's lock session (as a restart or a network cut would).
        pid = owner.session_pid
        assert pid in await _lock_sessions(services.db)
        async with services.db.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        cut = time.monotonic()
        await until(lambda: running["a"] == 0, within=2.0)  # the owner stops its link at once
        # Then one instance links again within 5 s: the standby, or the old owner if it gets
        # the database back first (a restart); never both.
        await until(lambda: running["a"] + running["b"] == 1, within=5.0 - (time.monotonic() - cut))
        assert owner.lost == 1
        assert sorted(owner.owns() + standby.owns()) == ["pbx:main"]
        await asyncio.sleep(1.0)
        assert running["a"] + running["b"] == 1, "the other one stands by"
        assert most == [1], "never two links to one PBX"
    finally:
        await a.stop()
        await b.stop()
        await owner.close()
        await standby.close()
        await other_db.close()


@pytest.mark.postgres_only
async def test_a_failing_link_keeps_its_owner_until_the_owner_stops(services: Services) -> None:
    """The PBX is down: the owner retries with backoff, the standby does not grab the dead link."""
    other_db = Database(services.db.url)
    owner, standby = Ownership(services.db, "a"), Ownership(other_db, "b")
    attempts = {"a": 0, "b": 0}

    def failing(name: str):  # type: ignore[no-untyped-def]
        async def body(_task: SupervisedTask) -> None:
            attempts[name] += 1
            raise ConnectionRefusedError("PBX down")
        return body

    a = SupervisedTask("pbx:main", owner.owned("pbx:main", failing("a")), HealthRegistry(), Backoff(0.05, 0.1))
    a.start()
    await until(lambda: attempts["a"] >= 1)
    b = SupervisedTask("pbx:main", standby.owned("pbx:main", failing("b")), HealthRegistry(), Backoff(0.05, 0.1))
    b.start()
    try:
        await until(lambda: attempts["a"] >= 10)
        assert attempts["b"] == 0 and owner.owns() == ["pbx:main"] and owner.acquired == 1
        await a.stop()  # a clean stop (the service releases what its task owned) gives the link up at once
        await owner.release("pbx:main")
        await until(lambda: attempts["b"] >= 1, within=3.0)
        assert standby.owns() == ["pbx:main"]
    finally:
        await a.stop()
        await b.stop()
        await owner.close()
        await standby.close()
        await other_db.close()


@pytest.mark.postgres_only
async def test_three_mailboxes_spread_one_per_instance_and_a_dead_instance_s_mailbox_moves(services: Services) -> None:
    """The first instance started takes all three mailboxes; as two more join it hands two
    over (one each), never reading one mailbox twice; when one dies, its mailbox moves."""
    boxes = ["mailbox:a", "mailbox:b", "mailbox:c"]
    dbs = [services.db, Database(services.db.url), Database(services.db.url)]
    instances = [Ownership(db, f"i{n}", retry_max_s=0.3, watch_s=0.2) for n, db in enumerate(dbs)]
    readers: dict[str, list[str]] = {box: [] for box in boxes}  # who reads each mailbox now
    most = [0]

    def reading(who: str, box: str):  # type: ignore[no-untyped-def]
        async def body(task: SupervisedTask) -> None:
            readers[box].append(who)
            most[0] = max(most[0], len(readers[box]))
            task.healthy("reading")
            try:
                await asyncio.Event().wait()
            finally:
                readers[box].remove(who)
        return body

    def start(n: int) -> list[SupervisedTask]:
        tasks = [SupervisedTask(box, instances[n].owned(box, reading(f"i{n}", box)), HealthRegistry(), Backoff(0.1, 0.5))
                 for box in boxes]
        for task in tasks:
            task.start()
        return tasks

    def spread() -> list[int]:
        return sorted(len(o.owns()) for o in instances)

    tasks = start(0)
    try:
        await until(lambda: instances[0].owns() == boxes, within=5.0)
        tasks += start(1) + start(2)
        await until(lambda: spread() == [1, 1, 1] and all(len(r) == 1 for r in readers.values()), within=10.0)
        assert instances[0].handed_over == 2
        await asyncio.sleep(1.0)
        assert spread() == [1, 1, 1], "settled: no mailbox passed round"
        assert instances[0].lost == 0, "handing over is not a loss"
        # The lock session of instance 2 ends (its process killed): the others share its mailbox.
        orphan = instances[2].owns()[0]
        async with services.db.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": instances[2].session_pid})
        for task in tasks[6:]:
            await task.stop()  # the dead process reads nothing any more
        await until(lambda: any(orphan in o.owns() for o in instances[:2]), within=5.0)
        assert sorted(len(o.owns()) for o in instances[:2]) == [1, 2]
        assert most == [1], "never two readers of one mailbox"
    finally:
        for task in tasks:
            await task.stop()
        for ownership in instances:
            await ownership.close()
        for db in dbs[1:]:
            await db.close()
