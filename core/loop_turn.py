"""A budget of event-loop time for code that works through a burst.

A screen-pop's customer lookup is a handful of hand-overs between the event loop and the
database driver; each waits until the loop finishes whatever callback it is running. So
every loop that can meet a burst (AMI events from a busy PBX, a frame fanned out to
thousands of consoles, the events of a committed batch) gives the loop back once its turn
has lasted ``budget_s``, wherever the burst came from and however fast the machine is.
"""

from __future__ import annotations

import asyncio
import time

DEFAULT_TURN_S = 0.001


class LoopTurn:
    """``await turn.pause_if_due()`` inside the loop of a burst; cheap enough to call per item."""

    __slots__ = ("_started", "budget_s")

    def __init__(self, budget_s: float = DEFAULT_TURN_S) -> None:
        self.budget_s = budget_s
        self._started = time.perf_counter()

    async def pause_if_due(self, force: bool = False) -> bool:
        """Yield to the loop if this turn is used up (or ``force``); True if it did."""
        if not force and time.perf_counter() - self._started <= self.budget_s:
            return False
        await asyncio.sleep(0)
        self._started = time.perf_counter()
        return True
