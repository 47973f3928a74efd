"""Calls waiting on another instance's PBX link: added to this board while that instance keeps saying so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent_ui.wallboard import waiting_share
from agent_ui.wallboard.waiting_share import CallsWaiting, SharedWaiting
from core.events import DomainEvent
from cti.queue_stats import WaitingCall

JOINED = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


async def test_each_instance_says_what_it_sees_and_hears_the_others_until_they_go_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[DomainEvent] = []

    async def publish(event: DomainEvent) -> None:
        said.append(event)

    mine = [WaitingCall("support", JOINED)]
    here = SharedWaiting(lambda: list(mine), "web-1", publish)
    assert await here.share_once() and not await here.share_once()  # said once; nothing new
    mine.clear()
    assert await here.share_once()  # the call was answered: said again (empty)
    assert [e.calls for e in said if isinstance(e, CallsWaiting)] == [(("support", JOINED.isoformat()),), ()]
    await here.on_event(CallsWaiting("web-2", (("sales", JOINED.isoformat()),)))
    await here.on_event(CallsWaiting("web-1", (("ghost", JOINED.isoformat()),)))  # its own echo: ignored
    assert list(here.waiting()) == [WaitingCall("sales", JOINED)]
    monkeypatch.setattr(waiting_share, "STALE_S", -1.0)  # web-2 went quiet (died, gave up its link)
    assert list(here.waiting()) == []
