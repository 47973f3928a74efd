"""The call tracker fed a recorded AMI transcript on a manual clock (the unit tests of the tracker
on recordings from a real Asterisk 22 and from the live-PBX suite share it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from core.clock import ManualClock
from core.events import DomainEvent
from cti.parser import Frame
from cti.scenarios import read_transcript, transcript_events
from cti.tracker import CallTracker, wants

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ami"
AGENTS = {f"PJSIP/100{n}": n for n in range(1, 6)}  # user n sits at extension 100n


class Replay:
    """A tracker on a manual clock; ``frames`` walks a transcript with the clock at each frame's
    time, so a test can act (a console's request) or look before ``apply`` feeds the frame."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.start = self.clock.now()
        self.tracker = CallTracker("pbx", AGENTS.get, self.clock)
        self.events: list[DomainEvent] = []

    def frames(self, name: str, keep: frozenset[str] = frozenset()) -> Iterator[Frame]:
        for step in transcript_events(read_transcript(FIXTURES / name), keep=keep):
            self.clock.advance(self.start + timedelta(seconds=step.at) - self.clock.now())
            yield step.frame

    def apply(self, frame: Frame) -> None:
        if wants(frame):
            self.events += self.tracker.apply(frame)


def replay(name: str, keep: frozenset[str] = frozenset()) -> tuple[CallTracker, list[DomainEvent]]:
    """The tracker after every tracked frame of ``tests/fixtures/ami/NAME``, and the events it gave, in order."""
    run = Replay()
    for frame in run.frames(name, keep):
        run.apply(frame)
    return run.tracker, run.events


def of(events: list[DomainEvent], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]
