"""The CTI wired together: one supervised link and tracker per PBX, the agent directory,
the screen-pop, the call recorder and call control. Built by ``cti.plugin``, and by the
benchmark and tests the same way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from core.clock import Clock
from core.db import Database
from core.events import EventBus, SignedOut
from core.health import HealthRegistry
from core.loop_turn import LoopTurn
from core.ownership import Ownership
from core.supervisor import Backoff, SupervisedTask
from cti.control import CallControl, PbxLine
from cti.directory import AgentDirectory
from cti.link import AmiLink, QueueItem, Snapshot
from cti.parser import Frame
from cti.pop import ScreenPopService
from cti.prefilter import RawEventFilter
from cti.recording import CallRecorder
from cti.relay import PbxCommandRelay
from cti.settings import PbxSettings
from cti.softphone import SoftphoneCredentialService
from cti.softphone_presence import SoftphonePresence
from cti.tracker import TRACKED_EVENTS, TRACKED_VARIABLES, CallTracker, wants
from routing.desk import TicketDesk

log = logging.getLogger(__name__)

DIRECTORY_REFRESH_S = 30.0
# Browser phones' registrations (cti.softphone_presence), read beside what the tracker reads.
SOFTPHONE_EVENTS = frozenset({"ContactStatus"})


def wants_with_softphones(frame: Frame) -> bool:
    return wants(frame) or frame.get("Event") in SOFTPHONE_EVENTS


class CtiService:
    def __init__(
        self,
        pbxes: list[PbxSettings],
        db: Database,
        bus: EventBus,
        desk: TicketDesk,
        health: HealthRegistry,
        clock: Clock,
        region: str = "US",
        crm_url: str | None = None,
        record_calls: bool = True,
        ownership: Ownership | None = None,
    ) -> None:
        # Several instances: only the owner of "pbx:<name>" runs that link (None: always run it).
        self.ownership = ownership
        self.bus = bus
        self.health = health
        self.directory = AgentDirectory(db)
        self.pop = ScreenPopService(db, desk, bus, region, crm_url)
        self.recorder = CallRecorder(db, desk, bus, region) if record_calls else None
        if self.recorder is not None:
            self.recorder.yield_to = self.pop.worker
            self.recorder.queues = {p.name: frozenset(p.queues) for p in pbxes}
        self.lines: dict[str, PbxLine] = {}
        for settings in pbxes:
            tracker = CallTracker(settings.name, self.directory.user_for, clock)
            link = AmiLink(settings, self._sink(settings.name, tracker), wants_with_softphones, queue_size=settings.queue_size,
                           keep=RawEventFilter(TRACKED_EVENTS | SOFTPHONE_EVENTS, TRACKED_VARIABLES), clock=clock)
            self.lines[settings.name] = PbxLine(settings, link, tracker)
        self.control = CallControl(self.lines, self.directory, bus.publish)
        if ownership is not None and not ownership.single_instance:
            self.control.relay = PbxCommandRelay(db, ownership, clock, self.control.run_relayed)
        self.softphones = SoftphoneCredentialService(self.lines, db)
        self.presence = SoftphonePresence(db)
        self._tasks: list[SupervisedTask] = []
        self._revocations: set[asyncio.Task[None]] = set()

    def _sink(self, name: str, tracker: CallTracker) -> Callable[[list[QueueItem]], Awaitable[None]]:
        publish = self.bus.publish

        async def sink(batch: list[QueueItem]) -> None:
            turn = LoopTurn()  # a screen-pop's lookup and frame go out between slices of a burst
            for item in batch:
                if isinstance(item, Snapshot) and item.action == "CoreShowChannels":
                    await self.directory.reload()
                elif isinstance(item, dict) and item.get("Event") in SOFTPHONE_EVENTS:
                    await self.presence.contact_changed(self.lines[name], item)
                    continue
                for event in tracker.apply(item):
                    await publish(event)
                if isinstance(item, Snapshot) and item.action == "QueueStatus":
                    self.presence.resync_soon(self.lines[name])  # members are known now
                await turn.pause_if_due()

        return sink

    async def start(self) -> None:
        if not self.lines:
            return  # no PBX configured: nothing to track, pop or record
        await self.directory.reload()
        self.bus.subscribe(SignedOut, self._signed_out, everywhere=True)  # a log-out on any instance
        self.pop.subscribe()
        self.pop.worker.start()
        if self.recorder is not None:
            self.recorder.subscribe()
            self.recorder.worker.start()
        if self.control.relay is not None:
            relay = SupervisedTask("pbx:commands", self.control.relay.run, self.health, Backoff(0.5, 10.0), required=False)
            self._tasks.append(relay)
            relay.start()
        if self.lines:
            directory = SupervisedTask("cti:directory", self._refresh_directory, self.health, Backoff(1.0, 60.0), required=False)
            self._tasks.append(directory)
            directory.start()
        for name, line in self.lines.items():
            link = line.link
            # A PBX back within seconds is seen within about reconnect_max_s (refused connects are cheap).
            resource = f"pbx:{name}"
            # A new owner logs in and resyncs (CoreShowChannels, QueueStatus) as after any reconnect.
            body = link.run if self.ownership is None else self.ownership.owned(resource, link.run)
            reader = SupervisedTask(resource, body, self.health, Backoff(0.25, line.settings.reconnect_max_s))
            consumer = SupervisedTask(f"pbx:{name}:tracker", self._consume(link), self.health, Backoff(0.5, 30.0), required=False)
            self._tasks += [reader, consumer]
            reader.start()
            consumer.start()

    async def _signed_out(self, event: SignedOut) -> None:
        """Log-out ends the browser phone's password (off the bus: it waits on the PBX)."""
        for user_id in event.user_ids:
            task = asyncio.create_task(self.softphones.revoke(user_id), name=f"softphone-revoke-{user_id}")
            self._revocations.add(task)
            task.add_done_callback(self._revocations.discard)

    async def _refresh_directory(self, task: SupervisedTask) -> None:
        """New or changed agents are mapped within a minute, without waiting for a reconnect."""
        while True:
            await self.directory.reload()
            task.healthy(f"{len(self.directory.by_interface)} agents mapped")
            await asyncio.sleep(DIRECTORY_REFRESH_S)

    @staticmethod
    def _consume(link: AmiLink) -> Callable[[SupervisedTask], Awaitable[None]]:
        async def body(task: SupervisedTask) -> None:
            task.healthy("consuming")
            await link.consume()

        return body

    async def idle(self) -> None:
        """Until the pop and the recorder have handled everything published so far."""
        await self.pop.worker.idle()
        if self.recorder is not None:
            await self.recorder.worker.idle()

    async def stop(self) -> None:
        await self.control.close()
        await self.presence.close()
        for revocation in list(self._revocations):
            with contextlib.suppress(Exception):
                await revocation
        await self.softphones.close()
        for task in self._tasks:
            await task.stop()
        for line in self.lines.values():
            await line.link.close()
            if self.ownership is not None:
                await self.ownership.release(f"pbx:{line.settings.name}")  # another instance links now
        await self.pop.worker.stop()
        if self.recorder is not None:
            await self.recorder.worker.stop()
