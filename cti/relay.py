"""Call control asked for on an instance that does not own the PBX link: relayed, once.

With several instances only one runs the AMI link to a PBX (``core.ownership``). A
click-to-dial that lands on another instance is written to ``pbx_commands`` (its
idempotency key is the call's channel id: asking twice inserts once); the owner claims
pending rows with ``FOR UPDATE SKIP LOCKED``, marks each ``sending`` and commits *before*
it writes to the PBX, runs it, and writes the result back, which the asking instance
reads. When the owner dies, the new owner fails what was left ``sending`` (it may or may
not have reached the PBX) and never re-sends it — no Originate is ever sent twice; the
agent is told and may click again — and carries on with what is still ``pending``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.db import Database
from core.errors import Conflict, Forbidden, FrontdeskError, InvalidInput, NotFound
from core.ownership import Ownership
from core.supervisor import SupervisedTask
from cti.errors import PbxLinkDown, PbxRefused, PbxTimeout
from cti.records import PbxCommand

log = logging.getLogger(__name__)

RELAYED = Counter("frontdesk_pbx_commands_relayed_total", "PBX commands run for another instance", ["pbx", "outcome"])

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]  # (pbx, action, payload) -> result

# The errors a relayed command may end with, re-raised as themselves on the asking instance.
_ERRORS: dict[str, type[FrontdeskError]] = {
    cls.error_id: cls for cls in (PbxRefused, PbxTimeout, PbxLinkDown, InvalidInput, NotFound, Conflict, Forbidden)
}


class PbxCommandRelay:
    def __init__(
        self, db: Database, ownership: Ownership | None, clock: Clock, handler: Handler, poll_s: float = 0.05
    ) -> None:
        self.db = db
        self.ownership = ownership
        self.clock = clock
        self.handler = handler
        self.poll_s = poll_s
        self.executed = 0
        self._owned: set[str] = set()  # PBXes whose leftovers this owner has already settled

    def is_local(self, pbx: str) -> bool:
        """Whether this instance runs the link to ``pbx`` (always, with one instance)."""
        own = self.ownership
        return own is None or own.single_instance or f"pbx:{pbx}" in own.owns()

    # -- the asking side ----------------------------------------------------------------
    async def request(self, pbx: str, action: str, payload: dict[str, Any], key: str, wait_s: float) -> dict[str, Any]:
        """Have the link's owner run ``action``; its result, or its error raised here."""
        try:
            async with self.db.transaction() as session:
                session.add(PbxCommand(key=key, pbx=pbx, action=action, payload=payload, status="pending",
                                       requested_at=self.clock.now()))
        except IntegrityError:
            pass  # asked before under this key: wait for that one
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            async with self.db.session() as session:
                row = (await session.execute(select(PbxCommand.status, PbxCommand.result).where(PbxCommand.key == key))).one()
            if row.status in ("done", "failed"):
                return self._outcome(row.status, row.result or {})
            if asyncio.get_running_loop().time() > deadline:
                # Withdrawn if still unclaimed, so it cannot run after the person was told it failed.
                async with self.db.transaction() as session:
                    withdrawn = await session.execute(
                        update(PbxCommand).where(PbxCommand.key == key, PbxCommand.status == "pending")
                        .values(status="failed", completed_at=self.clock.now(),
                                result={"error": PbxTimeout.error_id, "message": "the PBX link's owner did not answer"}))
                raise PbxTimeout(
                    f"{action}: no answer from the instance running the link to {pbx} within {wait_s:g}s"
                    + ("" if getattr(withdrawn, "rowcount", 0) else "; it may still have run"), {"action": action})
            await asyncio.sleep(self.poll_s)

    @staticmethod
    def _outcome(status: str, result: dict[str, Any]) -> dict[str, Any]:
        if status == "done":
            return result
        cls = _ERRORS.get(str(result.get("error")), PbxLinkDown)
        raise cls(str(result.get("message", "the command failed")), dict(result.get("details") or {}))

    # -- the owner's side ---------------------------------------------------------------
    async def run(self, task: SupervisedTask) -> None:
        """On every instance; does work only for the PBXes whose link this instance owns."""
        task.healthy("relaying")
        while True:
            owned = {r.split(":", 1)[1] for r in (self.ownership.owns() if self.ownership else []) if r.startswith("pbx:")}
            self._owned &= owned  # a link lost and taken again settles its leftovers again
            for pbx in owned:
                if pbx not in self._owned:
                    await self._fail_unconfirmed(pbx)
                    self._owned.add(pbx)
                while await self.run_once(pbx):
                    pass
            await asyncio.sleep(self.poll_s)

    async def _fail_unconfirmed(self, pbx: str) -> None:
        """A previous owner's commands that may or may not have reached the PBX: failed, not re-sent."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(PbxCommand).where(PbxCommand.pbx == pbx, PbxCommand.status == "sending")
                .values(status="failed", completed_at=self.clock.now(), result={
                    "error": PbxLinkDown.error_id,
                    "message": "the instance running the PBX link stopped before the PBX confirmed; not re-sent",
                }))
        count = getattr(result, "rowcount", 0)
        if count:
            log.warning("PBX %s: %d command(s) of the previous link owner failed (never re-sent)", pbx, count)

    async def run_once(self, pbx: str) -> int:
        """Claim and run the pending commands for ``pbx``; how many were run."""
        instance = self.ownership.instance if self.ownership else "local"
        async with self.db.transaction() as session:
            stmt = (select(PbxCommand).where(PbxCommand.pbx == pbx, PbxCommand.status == "pending")
                    .order_by(PbxCommand.id).limit(20))
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.execute(stmt)).scalars())
            for row in rows:
                row.status = "sending"  # committed before anything reaches the PBX
                row.claimed_by = instance
            claimed = [(row.id, row.action, dict(row.payload)) for row in rows]
        for command_id, action, payload in claimed:
            status, result = "done", {}
            try:
                result = await self.handler(pbx, action, payload)
            except FrontdeskError as exc:
                status, result = "failed", {"error": exc.error_id, "message": exc.message, "details": exc.details}
            except Exception as exc:
                log.exception("PBX %s: relayed %s failed", pbx, action)
                status, result = "failed", {"error": PbxLinkDown.error_id, "message": f"{type(exc).__name__}: {exc}"}
            async with self.db.transaction() as session:
                await session.execute(update(PbxCommand).where(PbxCommand.id == command_id)
                                      .values(status=status, result=result, completed_at=self.clock.now()))
            self.executed += 1
            RELAYED.labels(pbx, status).inc()
        return len(claimed)
