"""The mailbox reader lock is really released when a reader stops (not kept by the pool)."""

import pytest

from channels.reader_lock import mailbox_reader_lock
from config.services import Services
from core.db import Database


@pytest.mark.postgres_only
async def test_a_stopped_reader_lets_another_instance_take_the_mailbox(services: Services) -> None:
    other_instance = Database(services.db.url)
    try:
        async with mailbox_reader_lock(services.db, "support") as reading:
            assert reading
            async with mailbox_reader_lock(other_instance, "support") as standby_reading:
                assert not standby_reading
        # The first reader's pooled connection is still open, yet the lock is free.
        async with mailbox_reader_lock(other_instance, "support") as taking_over:
            assert taking_over
    finally:
        await other_instance.close()
