"""Calls waiting in queues, on every instance's wallboard (only the owner of a PBX link sees them).

A caller joining a queue publishes no event: the wallboard reads the waiting calls from the CTI's
live trackers, which only the instance holding the PBX link has. With several instances each
one publishes what its own trackers hold (``CallsWaiting``, to no browser) when it changes, and
again every ``HEARTBEAT_S``; each keeps the others' last lists and adds them to its own. A list
not renewed within ``STALE_S`` is dropped (its instance died or gave up the link).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any, ClassVar

from core.events import DomainEvent
from core.supervisor import SupervisedTask
from cti.queue_stats import WaitingCall, WaitingSource

HEARTBEAT_S = 2.0
STALE_S = 6.0
LOOK_S = 0.5  # how often this instance's own waiting calls are compared with what it last said


@dataclasses.dataclass(frozen=True)
class CallsWaiting(DomainEvent):
    name: ClassVar[str] = "wallboard.waiting"
    instance: str
    calls: tuple[tuple[str, str], ...]  # (queue, joined_at ISO) per waiting call
    user_ids: tuple[int, ...] = ()  # to no browser: each wallboard draws its own figures


class SharedWaiting:
    def __init__(self, local: WaitingSource, instance: str,
                 publish: Callable[[DomainEvent], Coroutine[Any, Any, None]]) -> None:
        self.local = local
        self.instance = instance
        self.publish = publish
        self._remote: dict[str, tuple[float, tuple[WaitingCall, ...]]] = {}
        self._said: tuple[tuple[str, str], ...] | None = None
        self._said_at = 0.0

    def waiting(self) -> Iterable[WaitingCall]:
        """This instance's waiting calls and the other instances' (fresh lists only)."""
        yield from self.local()
        now = time.monotonic()
        for instance, (at, calls) in list(self._remote.items()):
            if now - at > STALE_S:
                del self._remote[instance]
                continue
            yield from calls

    async def on_event(self, event: CallsWaiting) -> None:
        if event.instance == self.instance:
            return
        calls = tuple(WaitingCall(str(queue), datetime.fromisoformat(str(joined))) for queue, joined in event.calls)
        self._remote[event.instance] = (time.monotonic(), calls)

    async def share_once(self) -> bool:
        """Publish this instance's waiting calls if they changed (or the heartbeat is due)."""
        calls = tuple(sorted((c.queue, c.joined_at.isoformat()) for c in self.local()))
        if calls == self._said and (not calls or time.monotonic() - self._said_at < HEARTBEAT_S):
            return False
        self._said, self._said_at = calls, time.monotonic()
        await self.publish(CallsWaiting(self.instance, calls))
        return True

    async def run(self, task: SupervisedTask) -> None:
        task.healthy("sharing the calls waiting here")
        while True:
            await self.share_once()
            await asyncio.sleep(LOOK_S)
