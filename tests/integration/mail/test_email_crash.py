"""SIGKILL the ingest at random moments while it imports a few hundred mails: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from channels.imap import connect
from channels.records import MailboxCheckpoint, MailMessage, QuarantinedMail
from channels.samples import compose
from channels.settings import MailboxSettings
from config.services import Services
from core.records import EntryKind, TimelineEntry
from mail.helpers import eventually

COUNT = 300
SCRIPT = Path(__file__).with_name("ingest_process.py")


async def start_ingest(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), str(config), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


@pytest.mark.slow
async def test_killing_the_ingest_loses_and_doubles_nothing(
    mail_services: Services, support: MailboxSettings, database_url: str, tmp_path: Path
) -> None:
    messages = []
    for n in range(COUNT):
        refs = [f"<crash-{n - 1}@example.com>"] if n % 5 == 4 else None  # some replies in the mix
        messages.append(compose(sender=f"c{n % 37}@example.com", subject=f"crash test {n}",
                                message_id=f"<crash-{n}@example.com>", in_reply_to=refs[0] if refs else None,
                                references=refs, body=f"message {n} " + "x" * (n % 200)))
    client = await connect(support)
    for raw in messages:
        assert (await client.append(raw, mailbox="INBOX")).result == "OK"
    await client.logout()
    box = support.model_dump(mode="json")
    box["password"] = support.password.get_secret_value()
    box["fetch_batch"] = 40
    config = tmp_path / "frontdesk.yaml"
    config.write_text(yaml.safe_dump({"database_url": database_url, "mailboxes": [box], "log_level": "WARNING"}))

    async def progress() -> int:
        async with mail_services.db.session() as session:
            cp = await session.get(MailboxCheckpoint, "support", populate_existing=True)
            return cp.last_uid if cp else 0

    rng = random.Random(1042)
    kills = 0
    while kills < 8 and await progress() < COUNT:
        process = await start_ingest(config)
        await asyncio.sleep(rng.uniform(0.6, 2.0))  # a real process runs for a while before the kill
        process.send_signal(signal.SIGKILL)
        await process.wait()
        kills += 1
    process = await start_ingest(config)
    try:
        await eventually(lambda: _done(progress), within=60)
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGTERM)
        await process.wait()

    async with mail_services.db.session() as session:
        entries = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).scalars().all()
        stored = await session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.direction == "in"))
        quarantined = await session.scalar(select(func.count()).select_from(QuarantinedMail))
    ids = [e.payload["message_id"] for e in entries]
    assert kills >= 1
    assert len(ids) == COUNT and set(ids) == {f"<crash-{n}@example.com>" for n in range(COUNT)}
    assert stored == COUNT and quarantined == 0


async def _done(progress) -> bool:  # type: ignore[no-untyped-def]
    return await progress() >= COUNT
