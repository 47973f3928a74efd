"""A Frontdesk SLA process for the crash test: scanner + SMS outbox worker, on a fast clock.

Run as ``python sla_crash_server.py DATABASE_URL GATEWAY_URL REAL_T0 SIM_T0 FACTOR``; the
simulated time is ``SIM_T0 + (now - REAL_T0) * FACTOR`` so every restart continues the
same simulated day. The parent kills it with SIGKILL and starts it again.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

from alerts.wiring import build_sla
from config.app import build_services
from config.settings import load_settings
from core.supervisor import Backoff, SupervisedTask

CRASH_POLICY = {
    "name": "crash",
    "position": 0,
    "first_response_minutes": 60,
    "levels": [
        {"at": "80%", "channels": ["email"], "recipients": ["email:ops@example.com"]},
        {"at": "+0", "channels": ["sms"], "recipients": ["phone:+8613800138000"]},
    ],
}


class ScaledClock:
    def __init__(self, real_t0: float, sim_t0: datetime, factor: float) -> None:
        self.real_t0, self.sim_t0, self.factor = real_t0, sim_t0, factor

    def now(self) -> datetime:
        return self.sim_t0 + timedelta(seconds=(time.time() - self.real_t0) * self.factor)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((when - self.now()).total_seconds())


def crash_settings(database_url: str, gateway_url: str) -> object:
    return load_settings(
        None,
        database_url=database_url,
        sla={
            "policies": [CRASH_POLICY],
            "max_sleep_seconds": 600,
            "scan_batch": 200,
            "sms": {"gateway": "http", "http": {"url": gateway_url, "timeout": 5}, "max_attempts": 12,
                    "retry_base_seconds": 20},
        },
    )


async def serve(database_url: str, gateway_url: str, clock: ScaledClock) -> None:
    settings = crash_settings(database_url, gateway_url)
    services = build_services(settings, clock)  # type: ignore[arg-type]
    parts = build_sla(services)
    parts.sms_worker.lease = 600.0  # simulated seconds: a killed worker's rows return after this
    tasks = [
        SupervisedTask("sla-scanner", parts.scanner.run, services.health, Backoff(0.05, 0.5)),
        SupervisedTask("sms-outbox", parts.sms_worker.run, services.health, Backoff(0.05, 0.5)),
    ]
    for task in tasks:
        task.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, gateway, real_t0, sim_t0, factor = sys.argv[1:6]
    scaled = ScaledClock(float(real_t0), datetime.fromtimestamp(float(sim_t0), UTC), float(factor))
    asyncio.run(serve(url, gateway, scaled))
