"""Call control from the console and the API: dial, hang up, transfer, queue log-in, pause.

An agent acts only on their own calls and their own queue membership; a supervisor on
anyone's. Every outcome reaches the person: success, the PBX's refusal (``PbxRefused``),
no answer in time (``PbxTimeout``), or the link dropping (``PbxLinkDown``: the action is
never re-sent). Click-to-dial rings the agent's own phone first, then the customer.

Click-to-dial and attended transfer are asynchronous at the PBX: it accepts them at once
and only later events say what came of them. The request answers as soon as the PBX has
accepted ("ringing your phone", "transfer requested"); the tracker tells the agent each
step live (``CallProgress``), and a transfer the PBX never starts is reported failed
after ``transfer_timeout``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from core.auth import Actor
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import DomainEvent
from core.records import Role
from cti.calls import Call
from cti.directory import AgentDirectory
from cti.link import AmiLink
from cti.relay import PbxCommandRelay
from cti.settings import PbxSettings
from cti.tracker import CallTracker

log = logging.getLogger(__name__)

# What each user-influenced AMI header may hold. A value that reaches the PBX is a header
# line and, once there, often a dialplan argument: line breaks and NUL inject headers, commas
# and ``|`` split application arguments, so each field has a positive pattern, checked before
# anything is sent (one check for every action, so no action can forget it).
_DIALABLE = re.compile(r"^\+?[0-9*#]{2,32}$")
_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,80}$")
AMI_FIELDS: dict[str, tuple[re.Pattern[str], str]] = {
    "queue": (_NAME, "not a queue name"),
    "target": (_NAME, "not an extension or queue to transfer to"),
    "number": (_DIALABLE, "not a number or extension that can be dialled"),
    "interface": (
        re.compile(r"^[A-Za-z0-9_]{1,20}/[A-Za-z0-9_.+@/-]{1,80}$"),
        "not a PBX interface (such as PJSIP/1001)",
    ),
    "channel": (re.compile(r"^[A-Za-z0-9_]{1,20}/[A-Za-z0-9_.+@/;:-]{1,120}$"), "not a PBX channel name"),
    # Free text an agent types (Chinese included), but one line of words: no control
    # characters, commas, pipes or semicolons.
    "reason": (re.compile(r"^[\w .:/()'-]{0,80}$"), "a pause reason is one line of words (no commas or symbols)"),
}


# Set on the agent's leg of a click-to-dial: chan_pjsip adds it to the INVITE to the agent.
CLICK_TO_DIAL_HEADER_VARIABLE = "PJSIP_HEADER(add,X-Frontdesk-Click-To-Dial)"


def ami_value(field: str, value: str | None) -> str:
    """``value`` if it may be sent as AMI header ``field``; ``InvalidInput`` naming the field otherwise."""
    pattern, problem = AMI_FIELDS[field]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(problem, {"field": field, "value": value})
    return value


@dataclasses.dataclass(slots=True)
class PbxLine:
    """One PBX as the services see it: its settings, link and tracker."""

    settings: PbxSettings
    link: AmiLink
    tracker: CallTracker


@dataclasses.dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, **self.details}


class CallControl:
    def __init__(self, lines: dict[str, PbxLine], directory: AgentDirectory,
                 publish: Callable[[DomainEvent], Awaitable[None]] | None = None) -> None:
        self.lines = lines
        self.directory = directory
        self.publish = publish
        # Set when several instances share the PBX links: a dial is then run by the link's owner.
        self.relay: PbxCommandRelay | None = None
        self._watches: set[asyncio.Task[None]] = set()

    def _line(self, pbx: str | None) -> PbxLine:
        if pbx is None:
            if not self.lines:
                raise NotFound("no PBX is configured")
            return next(iter(self.lines.values()))
        line = self.lines.get(pbx)
        if line is None:
            raise NotFound("no such PBX", {"pbx": pbx})
        return line

    def _interface(self, actor: Actor, user_id: int | None) -> tuple[int, str]:
        actor.require(Role.AGENT)
        target = actor.user_id if user_id is None else user_id
        if target != actor.user_id:
            actor.require(Role.SUPERVISOR)
        if target is None:
            raise InvalidInput("no user to act for")
        interface = self.directory.interface_of(target)
        if interface is None:
            raise InvalidInput("this user has no phone (extension or PBX interface) configured", {"user_id": target})
        return target, ami_value("interface", interface)

    def _own_call(self, actor: Actor, line: PbxLine, linkedid: str) -> Call:
        actor.require(Role.AGENT)
        call = line.tracker.calls.get(linkedid)
        if call is None:
            raise NotFound("no such call in progress", {"linkedid": linkedid})
        mine = call.agent_user_id == actor.user_id or call.requested_by == actor.user_id
        if not mine and not actor.has(Role.SUPERVISOR):
            raise Forbidden("agents may only act on their own calls", {"linkedid": linkedid})
        return call

    @staticmethod
    def _target(value: str) -> str:
        text = (value or "").strip().replace(" ", "").replace("-", "")
        return ami_value("number", text)

    async def dial(self, actor: Actor, number: str, pbx: str | None = None) -> CommandResult:
        """Click-to-dial: the agent's own phone rings first; when answered, the PBX dials ``number``.

        On an instance that does not run the link to that PBX, the owner is asked to do it
        (``cti.relay``), exactly once, under the call's channel id."""
        target = self._target(number)
        user_id, interface = self._interface(actor, None)
        line = self._line(pbx)
        channel_id = f"fd-{uuid.uuid4().hex[:16]}"
        payload = {"user_id": user_id, "interface": interface, "number": target, "channel_id": channel_id}
        relay = self.relay
        if relay is None or relay.is_local(line.settings.name):
            result = await self.originate(line, payload)
        else:
            result = await relay.request(line.settings.name, "dial", payload, channel_id,
                                         wait_s=line.settings.action_timeout + 5.0)
        return CommandResult(True, "ringing your phone", result)

    async def run_relayed(self, pbx: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A command another instance asked for, run here where the link is (``cti.relay``)."""
        if action != "dial":
            raise InvalidInput("unknown PBX command", {"action": action})
        return await self.originate(self._line(pbx), payload)

    async def originate(self, line: PbxLine, payload: dict[str, Any]) -> dict[str, Any]:
        """Send the click-to-dial Originate on this instance's link (checked fields only)."""
        interface = ami_value("interface", payload["interface"])
        target = ami_value("number", payload["number"])
        channel_id = str(payload["channel_id"])
        line.tracker.expect_outbound(channel_id, target, int(payload["user_id"]))
        try:
            # Answered once queued: the outcome (OriginateResponse, the customer's leg) reaches
            # the agent as CallProgress, not by holding this request for the 30 s ring time.
            await line.link.action("Originate", {
                "Channel": interface, "Context": line.settings.originate_context, "Exten": target,
                "Priority": "1", "CallerID": f'"Click2Dial" <{interface.rsplit("/", 1)[-1]}>',
                "Timeout": str(round(line.settings.dial_ring_s * 1000)), "Async": "true", "ChannelId": channel_id,
                # A browser softphone answers its own click-to-dial by this header (desk phones ignore it).
                "Variable": f"{CLICK_TO_DIAL_HEADER_VARIABLE}={channel_id}",
            }, action_id=channel_id)
        except Exception:
            line.tracker.outbound.pop(channel_id, None)  # no call will come of it
            raise
        return {"linkedid": channel_id, "pbx": line.settings.name, "number": target}

    async def hangup(self, actor: Actor, linkedid: str, pbx: str | None = None) -> CommandResult:
        line = self._line(pbx)
        call = self._own_call(actor, line, linkedid)
        channel = call.agent_channel or line.tracker.other_party(call)
        if channel is None:
            raise NotFound("the call has no channel to hang up", {"linkedid": linkedid})
        ami_value("channel", channel)
        await line.link.action("Hangup", {"Channel": channel, "Cause": "16"})
        return CommandResult(True, "hung up")

    async def transfer(self, actor: Actor, linkedid: str, target: str, attended: bool = False, pbx: str | None = None) -> CommandResult:
        """Blind (Redirect the customer) or attended (Atxfer from the agent's channel)."""
        exten = ami_value("target", (target or "").strip())
        line = self._line(pbx)
        call = self._own_call(actor, line, linkedid)
        context = line.settings.originate_context
        if attended:
            if call.agent_channel is None or call.answered_at is None:
                raise InvalidInput("an attended transfer needs the call to be answered")
            if call.consult is not None:
                raise Conflict("a transfer of this call is already under way", {"linkedid": linkedid})
            token = line.tracker.request_transfer(call.linkedid, exten, actor.user_id)
            try:
                await line.link.action("Atxfer", {"Channel": ami_value("channel", call.agent_channel), "Exten": exten, "Context": context})
            except Exception:
                line.tracker.forget_transfer(call.linkedid, token)
                raise
            self._watch_transfer(line, call.linkedid, token)
            return CommandResult(True, "transfer requested", {"target": exten, "attended": True})
        else:
            customer = line.tracker.other_party(call)
            if customer is None:
                raise NotFound("the call has no customer channel to transfer", {"linkedid": linkedid})
            await line.link.action("Redirect", {"Channel": ami_value("channel", customer), "Exten": exten, "Context": context, "Priority": "1"})
        return CommandResult(True, "transferred", {"target": exten, "attended": attended})

    async def cancel_transfer(self, actor: Actor, linkedid: str, pbx: str | None = None) -> CommandResult:
        """Back to the customer: the consultation leg is dropped (AMI ``CancelAtxfer``)."""
        line = self._line(pbx)
        call = self._own_call(actor, line, linkedid)
        if call.consult is None or call.agent_channel is None:
            raise Conflict("no transfer of this call is under way", {"linkedid": linkedid})
        channel = ami_value("channel", call.agent_channel)
        line.tracker.cancelling_transfer(linkedid)
        await line.link.action("CancelAtxfer", {"Channel": channel})
        return CommandResult(True, "transfer cancelled", {"linkedid": linkedid})

    def _watch_transfer(self, line: PbxLine, linkedid: str, token: int) -> None:
        task = asyncio.create_task(self._transfer_deadline(line, linkedid, token), name=f"atxfer-watch-{linkedid}")
        self._watches.add(task)
        task.add_done_callback(self._watches.discard)

    async def _transfer_deadline(self, line: PbxLine, linkedid: str, token: int) -> None:
        await asyncio.sleep(line.settings.transfer_timeout)
        events = line.tracker.transfer_overdue(linkedid, token)
        if events:
            log.warning("PBX %s: attended transfer of %s accepted but never started (queue 't' option, "
                        "features.conf atxfer code, pbx-transfer prompt?)", line.settings.name, linkedid)
        if self.publish is not None:
            for event in events:
                await self.publish(event)

    async def close(self) -> None:
        for task in list(self._watches):
            task.cancel()
        for task in list(self._watches):
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def queue_login(self, actor: Actor, queue: str, user_id: int | None = None, pbx: str | None = None) -> CommandResult:
        ami_value("queue", queue)
        target, interface = self._interface(actor, user_id)
        line = self._line(pbx)
        await line.link.action("QueueAdd", {"Queue": queue, "Interface": interface, "StateInterface": interface, "Penalty": "0"})
        return CommandResult(True, "logged in", {"queue": queue, "user_id": target})

    async def queue_logout(self, actor: Actor, queue: str, user_id: int | None = None, pbx: str | None = None) -> CommandResult:
        ami_value("queue", queue)
        target, interface = self._interface(actor, user_id)
        line = self._line(pbx)
        await line.link.action("QueueRemove", {"Queue": queue, "Interface": interface})
        return CommandResult(True, "logged out", {"queue": queue, "user_id": target})

    async def pause(self, actor: Actor, paused: bool, reason: str = "", queue: str | None = None,
                    user_id: int | None = None, pbx: str | None = None) -> CommandResult:
        """Pause (with a reason; ``wrap-up`` is the wrap-up state) or unpause in one or all queues."""
        reason = ami_value("reason", (reason or "").strip())
        if queue is not None:
            ami_value("queue", queue)
        target, interface = self._interface(actor, user_id)
        line = self._line(pbx)
        headers = {"Interface": interface, "Paused": "true" if paused else "false", "Queue": queue,
                   "Reason": reason if paused and reason else None}
        await line.link.action("QueuePause", headers)
        return CommandResult(True, "paused" if paused else "ready", {"user_id": target, "paused": paused, "reason": reason})


    def agent_view(self, actor: Actor) -> dict[str, Any]:
        """What the agent's status control and call panel show on page load."""
        interface = self.directory.interface_of(actor.user_id) if actor.user_id is not None else None
        lines = []
        calls: list[dict[str, Any]] = []
        for name, line in self.lines.items():
            agent_line = line.tracker.agents.lines.get(interface or "")
            up = line.link.up
            lines.append({
                "pbx": name, "up": up,
                "state": ("unknown" if not up else agent_line.state if agent_line else "logged-out"),
                "reason": agent_line.reason if agent_line else "",
                "queues": sorted(agent_line.memberships) if agent_line else [],
            })
            if actor.user_id is not None:
                calls += [c.as_dict() for c in line.tracker.call_of_user(actor.user_id)]
        return {"interface": interface, "lines": lines, "calls": calls}

    async def set_status(self, actor: Actor, state: str, reason: str = "", pbx: str | None = None) -> CommandResult:
        """The console's status control: ready, paused (with a reason) or wrap-up."""
        if state == "ready":
            return await self.pause(actor, False, pbx=pbx)
        if state == "wrap-up":
            return await self.pause(actor, True, "wrap-up", pbx=pbx)
        if state == "paused":
            return await self.pause(actor, True, reason or "paused", pbx=pbx)
        raise InvalidInput("status must be ready, paused or wrap-up", {"state": state})
