"""A call recorded while the database restarts: the worker holds the work until it is back.

The in-order workers behind the PBX link (call recording) used to drop an event whose
transaction failed; during a PostgreSQL restart that was every event for a few seconds.
"""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.db import database_unreachable
from cti.worker import EventWorker


def _wrapped(error: BaseException) -> DBAPIError:
    """What SQLAlchemy raises around an asyncpg error."""
    try:
        raise error
    except BaseException as exc:
        return DBAPIError("SELECT 1", None, exc)


def test_the_errors_of_a_database_that_is_down_or_restarting_are_told_apart_from_bugs() -> None:
    assert database_unreachable(ConnectionRefusedError(111, "Connect call failed"))
    assert database_unreachable(_wrapped(asyncpg.exceptions.CannotConnectNowError("not yet accepting connections")))
    assert database_unreachable(_wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation")))
    assert database_unreachable(_wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")))
    assert not database_unreachable(ValueError("a bug"))
    assert not database_unreachable(IntegrityError("INSERT", None, ValueError("duplicate key")))


async def _run(worker: EventWorker, items: list[str]) -> None:
    worker.start()
    for item in items:
        await worker.submit(item)
    try:
        async with asyncio.timeout(10):
            await worker.idle()
    finally:
        await worker.stop()


async def test_work_that_met_an_unreachable_database_is_done_once_it_is_back_in_order() -> None:
    failures = iter([ConnectionRefusedError(111, "refused"),
                     _wrapped(asyncpg.exceptions.CannotConnectNowError("starting up"))])
    done: list[str] = []

    async def handle(item: str) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        done.append(item)

    worker = EventWorker("recorder", handle, retry_unreachable_s=30)
    await _run(worker, ["ring", "answer", "end"])
    assert done == ["ring", "answer", "end"]
    assert worker.failed == 0 and worker.retried == 2


async def test_other_failures_are_not_retried_and_an_outage_past_the_limit_gives_up() -> None:
    seen: list[str] = []

    async def handle(item: str) -> None:
        seen.append(item)
        if item == "bug":
            raise ValueError("a bug is not cured by waiting")
        raise ConnectionRefusedError(111, "refused")

    worker = EventWorker("recorder", handle, retry_unreachable_s=0.3)
    await _run(worker, ["bug", "down"])
    assert seen.count("bug") == 1, "a bug is handled once and dropped"
    assert seen.count("down") > 1 and worker.failed == 2, "retried while the outage was young, then dropped"


async def test_a_worker_without_a_retry_budget_drops_the_work_as_before() -> None:
    calls = 0

    async def handle(_item: str) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError(111, "refused")

    worker = EventWorker("pop", handle)
    await _run(worker, ["ring"])
    assert calls == 1 and worker.failed == 1 and worker.retried == 0
