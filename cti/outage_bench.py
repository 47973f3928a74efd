"""``frontdesk bench outage --json``: a PBX that crashes mid-call and comes back (issue 11, bug 4).

The link, its supervisor and the tracker are wired as ``CtiService`` wires them, against the
AMI simulator. Each round: a queue call is answered, talks ``--talk`` seconds, then the PBX
crashes (connections dropped, no Hangup, nothing listening) for ``--outage`` seconds and
comes back empty. Measured: how long after the PBX listens again the link is up
(``reconnect_*_s``: the backoff's cap decides it), and how far the recorded talk time is
from the time the call really talked before the crash (``talk_error_max_s``: ending the call
at reconnect would add the whole outage). ``--reconnect-max 30`` shows the old backoff.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from core.health import HealthRegistry
from core.measure import percentile, rounded
from core.supervisor import Backoff, SupervisedTask
from cti.events import CallEnded
from cti.link import AmiLink, QueueItem
from cti.settings import PbxSettings
from cti.simulator import AmiSimulator, QueueCall
from cti.tracker import CallTracker, wants

AGENT = "PJSIP/1001"


async def _until(condition: Any, within: float, step: float = 0.002) -> float:
    """Seconds until ``condition()`` held (polled every ``step``)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(step)
    return time.monotonic() - start


async def measure(rounds: int, outage_s: float, talk_s: float, reconnect_max_s: float) -> dict[str, Any]:
    sim = AmiSimulator("bench", "bench", queues={"support": [AGENT]}, answer_delay_s=0.05)
    port = await sim.start()
    settings = PbxSettings.model_validate({"name": "bench", "port": port, "username": "bench", "secret": "bench",
                                           "ping_interval": 1.0, "ping_timeout": 1.0, "action_timeout": 2.0,
                                           "reconnect_max_s": reconnect_max_s})
    tracker = CallTracker("bench", lambda interface: 1 if interface == AGENT else None)
    ended: dict[str, CallEnded] = {}

    async def sink(batch: list[QueueItem]) -> None:
        for item in batch:
            for event in tracker.apply(item):
                if isinstance(event, CallEnded):
                    ended[event.linkedid] = event

    link = AmiLink(settings, sink, wants)
    reader = SupervisedTask("pbx:bench", link.run, HealthRegistry(), Backoff(0.25, settings.reconnect_max_s))
    consumer = asyncio.create_task(link.consume())
    reader.start()
    reconnects: list[float] = []
    errors: list[float] = []
    outage_marked = 0
    try:
        await _until(lambda: link.up and link.resyncs >= 1, 10)
        for n in range(rounds):
            back, talked, event = await _round(sim, port, link, tracker, ended, n, outage_s, talk_s, reconnect_max_s)
            reconnects.append(back)
            errors.append(abs(event.talk_s - talked))
            outage_marked += event.ended_during_outage
            print(f"round {n + 1}: back after {back:.3f}s, talk {event.talk_s:.2f}s (really {talked:.2f}s), "
                  f"ended during outage: {event.ended_during_outage}", file=sys.stderr)
    finally:
        await reader.stop()
        consumer.cancel()
        await link.close()
        await sim.close()
    return {
        "rounds": rounds, "outage_s": outage_s, "talk_s": talk_s, "reconnect_max_s": reconnect_max_s,
        "reconnect_p50_s": rounded(percentile(reconnects, 0.5), 3),
        "reconnect_worst_s": rounded(max(reconnects), 3),
        "talk_error_max_s": rounded(max(errors), 3),
        "ended_during_outage": outage_marked,
    }


async def _round(sim: AmiSimulator, port: int, link: AmiLink, tracker: CallTracker, ended: dict[str, CallEnded],
                 n: int, outage_s: float, talk_s: float, reconnect_max_s: float) -> tuple[float, float, CallEnded]:
    """One call answered, a crash after ``talk_s``, the PBX back after ``outage_s``: (reconnect s, talk s, CallEnded)."""
    linkedid = f"1900000100.{n}"
    call = QueueCall(f"+1415555{n:04d}", ring=[AGENT], answered_by=AGENT, ring_s=0.05, talk_s=3600, linkedid=linkedid)
    sim.spawn(sim.play(call.steps()))
    await _until(lambda: linkedid in tracker.calls and tracker.calls[linkedid].answered_at is not None, 10)
    answered = time.monotonic()
    await asyncio.sleep(talk_s)
    connects, resyncs = link.connects, link.resyncs
    crashed = time.monotonic()
    await sim.go_down()
    await asyncio.sleep(outage_s)
    await sim.start(port=port)
    back = await _until(lambda: link.connects > connects, outage_s + reconnect_max_s + 30)
    await _until(lambda: linkedid in ended and link.resyncs > resyncs, 10)
    return back, crashed - answered, ended[linkedid]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench outage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line (always the last line)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the PBX stays down")
    parser.add_argument("--talk", type=float, default=2.0, help="seconds the call talks before the crash")
    parser.add_argument("--reconnect-max", type=float, default=PbxSettings.model_fields["reconnect_max_s"].default,
                        help="the link's longest wait between reconnect attempts (pbx.reconnect_max_s)")
    args = parser.parse_args(list(argv or []))
    result = asyncio.run(measure(args.rounds, args.outage, args.talk, args.reconnect_max))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
