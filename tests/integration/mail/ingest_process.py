"""The ingest, alone in a process, so the crash test can SIGKILL it: ``python ingest_process.py CONFIG``."""

from __future__ import annotations

import asyncio
import sys

from channels.plugin import EmailChannel
from config.app import build_services
from config.settings import load_settings


async def main(path: str) -> None:
    services = build_services(load_settings(path))
    channel = EmailChannel(services)
    channel.start(outbox=False)
    print("started", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
