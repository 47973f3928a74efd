"""The call tracker fed a recorded AMI transcript on a manual clock (the unit tests of the tracker
on recordings from a real Asterisk 22 and from the live-PBX suite share it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.clock import ManualClock
from core.events import DomainEvent
from cti.scenarios import read_transcript, transcript_events
from cti.tracker import CallTracker, wants

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ami"
AGENTS = {f"PJSIP/100{n}": n for n in range(1, 6)}  # user n sits at extension 100n


def replay(name: str) -> tuple[CallTracker, list[DomainEvent]]:
    """The tracker after every tracked frame of ``tests/fixtures/ami/NAME``, and the events it gave, in order."""
    clock = ManualClock()
    start = clock.now()
    tracker = CallTracker("pbx", AGENTS.get, clock)
    events: list[DomainEvent] = []
    for step in transcript_events(read_transcript(FIXTURES / name)):
        clock.advance(start + timedelta(seconds=step.at) - clock.now())
        if wants(step.frame):
            events += tracker.apply(step.frame)
    return tracker, events


def of(events: list[DomainEvent], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]
