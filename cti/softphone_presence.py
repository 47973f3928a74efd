"""Presence follows the browser phone: an agent whose softphone is not registered is paused in
their queues with the reason "phone offline", and made ready again when it registers.

A desk phone is always plugged in; a browser phone exists only while its tab is open and its
network up. Asterisk reports each registration change as an AMI ``ContactStatus`` event
(``Created``/``Removed`` on REGISTER and when the WebSocket closes, ``Reachable``/
``Unreachable`` from qualify). Asterisk alone would merely skip an unreachable member; the
pause makes it visible: the console, the wallboard and the reports show why the agent takes
no calls. A short grace (``softphone_offline_grace_s``) lets a page load, which drops and
re-opens the WebSocket, pass without flapping the agent's state.

Only a pause this service made is lifted: an agent who chose a break stays on break.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from core.db import Database
from core.records import User
from cti.control import PbxLine
from cti.errors import PbxLinkDown, PbxRefused, PbxTimeout
from cti.parser import Frame

log = logging.getLogger(__name__)

PHONE_OFFLINE = "phone offline"
ONLINE = frozenset({"Created", "Reachable", "Updated"})
OFFLINE = frozenset({"Removed", "Unreachable"})


class SoftphonePresence:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.contacts: dict[tuple[str, str], set[str]] = {}  # (pbx, aor) -> registered contact URIs
        self.paused: set[tuple[str, str]] = set()  # (pbx, interface) paused by this service
        self._timers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._resyncs: set[asyncio.Task[None]] = set()

    async def _softphone_extensions(self) -> set[str]:
        async with self.db.session() as session:
            found = await session.execute(
                select(User.extension).where(User.softphone.is_(True), User.active.is_(True), User.extension.is_not(None))
            )
        return {extension for (extension,) in found if extension}

    def resync_soon(self, line: PbxLine) -> None:
        """After each (re)connect's queue snapshot (off the event consumer: it asks the PBX)."""
        task = asyncio.create_task(self.resync(line), name=f"softphone-resync-{line.settings.name}")
        self._resyncs.add(task)
        task.add_done_callback(self._resyncs.discard)

    async def resync(self, line: PbxLine) -> None:
        """What is registered now (``PJSIPShowContacts``): no event tells about a browser that
        went away while this server was not listening, or one that came back meanwhile."""
        items: list[Frame] = []
        try:
            items = (await line.link.action("PJSIPShowContacts", collect_list=True)).events
        except PbxRefused as err:
            if "no contacts" not in str(err).lower():  # Asterisk's answer when nothing is registered
                # e.g. a PBX (or the simulator) without res_pjsip's AMI: no browser phones to follow
                log.info("PBX %s: browser phones' registrations not read: %s", line.settings.name, err)
                return
        except (PbxTimeout, PbxLinkDown) as err:
            log.warning("PBX %s: browser phones' registrations not read: %s", line.settings.name, err)
            return
        registered: dict[str, set[str]] = {}
        for item in items:
            if item.get("Event") != "ContactList" or item.get("Status") == "Unreachable":
                continue
            aor = item.get("Aor") or item.get("ObjectName", "").split(";@", 1)[0]
            registered.setdefault(aor, set()).add(item.get("Uri", ""))
        for extension in await self._softphone_extensions():
            key = (line.settings.name, extension)
            self.contacts[key] = registered.get(extension, set())
            agent = line.tracker.agents.lines.get(f"PJSIP/{extension}")
            if self.contacts[key]:
                await self._online(line, extension)
            elif agent is not None and agent.memberships and key not in self._timers:
                self._timers[key] = asyncio.create_task(self._offline_after_grace(line, extension), name=f"softphone-offline-{extension}")

    async def _is_softphone(self, extension: str) -> bool:
        async with self.db.session() as session:
            found = await session.execute(
                select(User.id).where(User.extension == extension, User.softphone.is_(True), User.active.is_(True))
            )
        return found.first() is not None

    async def contact_changed(self, line: PbxLine, frame: Frame) -> None:
        """One ``ContactStatus`` event: keep the AOR's contacts; start or cancel the offline clock."""
        status = frame.get("ContactStatus", "")
        aor = frame.get("AOR", "")
        uri = frame.get("URI", "")
        if not aor or (status not in ONLINE and status not in OFFLINE):
            return
        if not await self._is_softphone(aor):
            return
        key = (line.settings.name, aor)
        contacts = self.contacts.setdefault(key, set())
        if status in ONLINE:
            contacts.add(uri)
        else:
            contacts.discard(uri)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if contacts:
            await self._online(line, aor)
        else:
            self._timers[key] = asyncio.create_task(self._offline_after_grace(line, aor), name=f"softphone-offline-{aor}")

    async def _offline_after_grace(self, line: PbxLine, aor: str) -> None:
        await asyncio.sleep(line.settings.softphone_offline_grace_s)
        self._timers.pop((line.settings.name, aor), None)  # past the grace: a new event starts its own clock
        interface = f"PJSIP/{aor}"
        agent = line.tracker.agents.lines.get(interface)
        if agent is not None and any(paused for paused, _reason in agent.memberships.values()):
            return  # already paused (a break, wrap-up): that reason stays, and is not lifted on return
        if await self._pause(line, interface, True):
            self.paused.add((line.settings.name, interface))
            log.info("PBX %s: %s's browser phone is offline: paused", line.settings.name, interface)

    async def _online(self, line: PbxLine, interface_aor: str) -> None:
        interface = f"PJSIP/{interface_aor}"
        key = (line.settings.name, interface)
        agent = line.tracker.agents.lines.get(interface)
        ours = key in self.paused or (agent is not None and agent.reason == PHONE_OFFLINE)
        if ours and await self._pause(line, interface, False):
            self.paused.discard(key)
            log.info("PBX %s: %s's browser phone is back: ready", line.settings.name, interface)

    @staticmethod
    async def _pause(line: PbxLine, interface: str, paused: bool) -> bool:
        """QueuePause in every queue; False when the agent is in none (nothing to pause) or the PBX is gone."""
        headers = {"Interface": interface, "Paused": "true" if paused else "false",
                   "Reason": PHONE_OFFLINE if paused else None}
        try:
            await line.link.action("QueuePause", headers)
        except (PbxRefused, PbxTimeout, PbxLinkDown) as err:
            log.info("PBX %s: QueuePause %s (%s) not applied: %s", line.settings.name, interface, paused, err)
            return False
        return True

    async def close(self) -> None:
        for task in [*self._timers.values(), *self._resyncs]:
            task.cancel()
        self._timers.clear()
