"""A dial asked for on an instance without the PBX link is run by the link's owner, once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cti_fixtures import until

from config.services import Services
from core.db import Database
from core.ownership import Ownership
from cti.errors import PbxLinkDown, PbxRefused
from cti.relay import PbxCommandRelay


class Pbx:
    """Counts what reached the PBX, by channel id."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.hold = asyncio.Event()
        self.holding = False

    async def handle(self, pbx: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(payload["channel_id"])
        if payload["number"] == "000":
            raise PbxRefused("Extension does not exist", {"action": "Originate"})
        if self.holding:
            await self.hold.wait()
        return {"linkedid": payload["channel_id"], "pbx": pbx}


async def test_the_owner_runs_a_relayed_dial_once_and_errors_come_back(services: Services) -> None:
    pbx = Pbx()
    owner = PbxCommandRelay(services.db, None, services.clock, pbx.handle, poll_s=0.01)
    asker = PbxCommandRelay(services.db, None, services.clock, pbx.handle, poll_s=0.01)

    async def serve() -> None:
        while True:
            await owner.run_once("main")
            await asyncio.sleep(0.01)

    serving = asyncio.create_task(serve())
    try:
        payload = {"number": "5551234", "channel_id": "fd-1"}
        first, again = await asyncio.gather(asker.request("main", "dial", payload, "fd-1", 5.0),
                                            asker.request("main", "dial", payload, "fd-1", 5.0))
        assert first == again == {"linkedid": "fd-1", "pbx": "main"}
        assert pbx.sent == ["fd-1"], "asked twice under one key, sent once"
        with pytest.raises(PbxRefused, match="Extension does not exist"):
            await asker.request("main", "dial", {"number": "000", "channel_id": "fd-2"}, "fd-2", 5.0)
    finally:
        serving.cancel()


@pytest.mark.postgres_only
async def test_a_new_owner_fails_what_the_dead_owner_was_sending_and_never_resends_it(services: Services) -> None:
    pbx = Pbx()
    pbx.holding = True  # the owner dies while its Originate is on the wire
    other_db = Database(services.db.url)
    first, second = Ownership(services.db, "a"), Ownership(other_db, "b")
    old = PbxCommandRelay(services.db, first, services.clock, pbx.handle, poll_s=0.01)
    new = PbxCommandRelay(other_db, second, services.clock, pbx.handle, poll_s=0.01)
    asker = PbxCommandRelay(services.db, None, services.clock, pbx.handle, poll_s=0.01)
    assert await first.try_acquire("pbx:main") is not None

    async def owner_loop() -> None:
        while True:
            await old.run_once("main")
            await asyncio.sleep(0.01)

    in_flight = asyncio.create_task(asker.request("main", "dial", {"number": "1", "channel_id": "fd-a"}, "fd-a", 10.0))
    old_task = asyncio.create_task(owner_loop())
    try:
        await until(lambda: bool(pbx.sent))
        queued = asyncio.create_task(asker.request("main", "dial", {"number": "2", "channel_id": "fd-b"}, "fd-b", 10.0))
        old_task.cancel()  # kill -9 of the owner: nothing more is written by it
        await first.close()
        assert await second.try_acquire("pbx:main") is not None
        pbx.holding = False
        new_task = asyncio.create_task(new.run(_Task()))  # type: ignore[arg-type]
        with pytest.raises(PbxLinkDown, match="not re-sent"):
            await in_flight
        assert await queued == {"linkedid": "fd-b", "pbx": "main"}
        new_task.cancel()
        assert pbx.sent == ["fd-a", "fd-b"], "no Originate twice"
    finally:
        await second.close()
        await other_db.close()


class _Task:
    def healthy(self, _detail: str = "") -> None:
        pass
