"""``Database.read``: the screen-pop's one-hand-over read sees what the async sessions
committed, and refuses to write, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.db import Database, WriteInRead
from core.records import Customer, CustomerPhone


async def test_read_sees_committed_rows(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            customer = Customer(name="Ana Ruiz")
            session.add(customer)
            await session.flush()
            session.add(CustomerPhone(customer_id=customer.id, e164="+34911234567"))

        def names(session: Session) -> list[str]:
            stmt = select(Customer.name).join(CustomerPhone).where(CustomerPhone.e164 == "+34911234567")
            return list(session.execute(stmt).scalars())

        assert await db.read(names) == ["Ana Ruiz"]
    finally:
        await db.close()


@pytest.mark.parametrize("how", ["flush", "statement"])
async def test_read_refuses_writes(database_url: str, how: str) -> None:
    db = Database(database_url)
    try:
        def write(session: Session) -> None:
            if how == "flush":
                session.add(Customer(name="Should not exist"))
                session.flush()
            else:
                session.execute(insert(Customer).values(name="Should not exist"))

        with pytest.raises(WriteInRead):
            await db.read(write)
        async with db.session() as session:
            assert (await session.execute(select(Customer).where(Customer.name == "Should not exist"))).first() is None
    finally:
        await db.close()


@pytest.mark.sqlite_only  # the second guard is SQLite's query_only
async def test_sqlite_reader_connection_is_query_only(database_url: str) -> None:
    db = Database(database_url)
    try:
        def write(session: Session) -> None:
            session.connection().exec_driver_sql("INSERT INTO customers (name) VALUES ('Should not exist')")

        with pytest.raises(OperationalError, match="readonly"):
            await db.read(write)
    finally:
        await db.close()
