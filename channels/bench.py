"""``frontdesk bench email``: the real ingest against a real IMAP server, on a fresh SQLite database.

1. Starts a throw-away Dovecot (or uses ``--imap-url imap://user:password@host:port/folder``),
   appends N generated customer mails (Chinese in GBK/GB2312/Big5, English, Spanish;
   attachments; a fifth of them replies, from other senders, to earlier ones).
2. Starts the ingest (IDLE) and measures APPEND done → every mail committed on a ticket.
3. While idle, appends mail one by one and measures APPEND → ticket event published.
4. Checks the result in the database: duplicates, lost mail, replies on their original's ticket.

Prints one JSON object on its last line: emails, emails_per_s, latency_p95_ms, duplicates,
lost, threaded_correctly, replies (and a few more figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr
from sqlalchemy import select

from channels.dovecot import ThrowawayDovecot
from channels.imap import connect
from channels.plugin import EmailChannel
from channels.samples import Attachment, compose
from channels.settings import MailboxSettings
from core.events import TimelineAppended
from core.measure import percentile, rounded
from core.records import EntryKind, TimelineEntry

log = logging.getLogger(__name__)

_TEXTS = [
    ("gb2312", "gbk", "订单还没有收到，请帮我查询物流", "您好，我的订单已经一个星期了还没有收到，请尽快处理。镕"),
    ("gbk", "gbk", "退款申请", "商品有质量问题，我要申请退款，谢谢。"),
    ("big5", "big5", "關於發票的問題", "請問發票什麼時候寄出？謝謝。"),
    ("utf-8", "utf-8", "Cannot log in to my account", "Hi, the password reset link never arrives. Please help."),
    ("utf-8", "utf-8", "Invoice is wrong", "Hello, my invoice shows the wrong amount. Regards."),
    ("iso-8859-1", "cp1252", "Factura incorrecta", "Hola, la factura de mi pedido tiene un importe incorrecto. ¿Pueden corregirla?"),
    ("utf-8", "utf-8", "Envío retrasado", "Mi pedido lleva dos semanas de retraso, señor."),
]


def generate(n: int, seed: int = 7, prefix: str = "bench") -> tuple[list[bytes], dict[str, str]]:
    """N mails and, for each reply, the Message-ID of the mail it answers."""
    rng = random.Random(seed)
    mails: list[bytes] = []
    parent_of: dict[str, str] = {}
    for i in range(n):
        charset, codec, subject, body = _TEXTS[i % len(_TEXTS)]
        message_id = f"<{prefix}-{i}@customers.example>"
        in_reply_to = None
        if i >= 10 and rng.random() < 0.2:
            parent = rng.randrange(0, i)
            in_reply_to = f"<{prefix}-{parent}@customers.example>"
            parent_of[message_id] = in_reply_to
            subject = "Re: " + subject
        attachments = None
        if i % 10 == 3:
            name = "发票.pdf" if codec in ("gbk", "big5") and codec != "big5" else "invoice.pdf"
            attachments = [Attachment(name, "application/pdf", b"%PDF-1.4 " + bytes(rng.getrandbits(8) for _ in range(2000)))]
        mails.append(
            compose(
                sender=f"customer{rng.randrange(400)}@example.{('cn', 'com', 'es')[i % 3]}",
                subject=f"{subject} {i}",
                body=f"{body}\n\n#{i}",
                charset=charset,
                codec=codec,
                message_id=message_id,
                in_reply_to=in_reply_to,
                references=[in_reply_to] if in_reply_to else None,
                attachments=attachments,
            )
        )
    return mails, parent_of


def _mailbox_from_url(url: str) -> MailboxSettings:
    parts = urlsplit(url)
    return MailboxSettings.model_validate(dict(
        name="bench",
        address=f"{unquote(parts.username or 'support')}@example.com",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (993 if parts.scheme == "imaps" else 143),
        security="tls" if parts.scheme == "imaps" else "plain",
        username=unquote(parts.username or ""),
        password=SecretStr(unquote(parts.password or "")),
        folder=parts.path.strip("/") or "INBOX",
    ))


async def _append_all(box: MailboxSettings, mails: list[bytes]) -> None:
    client = await connect(box)
    try:
        for raw in mails:
            response = await client.append(raw, mailbox=box.folder)
            if response.result != "OK":
                raise RuntimeError(f"APPEND failed: {response}")
    finally:
        await client.logout()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from config.app import build_services
    from config.settings import load_settings
    from core.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-email-"))
    server: ThrowawayDovecot | None = None
    if args.imap_url:
        box = _mailbox_from_url(args.imap_url)
    else:
        server = ThrowawayDovecot({"bench": "bench"}).start()
        box = server.mailbox("bench", name="bench")
    box = box.model_copy(update={"fetch_batch": args.batch, "acknowledge": not args.no_acknowledge})
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = load_settings(None, database_url=url, mailboxes=[box.model_dump()], log_level="WARNING")
    services = build_services(settings)
    channel = EmailChannel(services)
    importer = channel.importers["bench"]
    prefix = f"b{int(time.time())}"
    try:
        mails, parent_of = generate(args.emails, prefix=prefix)
        channel.parser.start()  # the parse worker process is part of start-up, not of the run
        t_append = time.perf_counter()
        await _append_all(box, mails)
        t0 = time.perf_counter()
        channel.start(outbox=False)
        while importer.imported + importer.duplicates + importer.quarantined < args.emails:
            await asyncio.sleep(0.005)
            if time.perf_counter() - t0 > args.timeout:
                break
        t1 = time.perf_counter()

        # Latency: one mail at a time into an idle mailbox, APPEND → ticket event published.
        published: asyncio.Queue[float] = asyncio.Queue()

        async def on_entry(event: TimelineAppended) -> None:
            if event.kind == EntryKind.EMAIL_IN:
                published.put_nowait(time.perf_counter())

        services.bus.subscribe(TimelineAppended, on_entry)
        latencies: list[float] = []
        client = await connect(box)
        try:
            for i in range(args.latency_samples):
                raw = compose(sender=f"late{i}@example.com", subject=f"latency {i}", message_id=f"<{prefix}-late-{i}@customers.example>")
                start = time.perf_counter()
                await client.append(raw, mailbox=box.folder)
                try:
                    latencies.append(await asyncio.wait_for(published.get(), 10) - start)
                except TimeoutError:
                    latencies.append(10.0)
                await asyncio.sleep(args.latency_gap)  # let the ingest go back to IDLE: "appended while idle"
        finally:
            await client.logout()
        await channel.stop()
        log.info("latencies (ms): %s", [round(x * 1000) for x in latencies])

        async with services.db.session() as session:
            rows = (await session.execute(select(TimelineEntry.ticket_id, TimelineEntry.payload).where(TimelineEntry.kind == EntryKind.EMAIL_IN))).all()
        ticket_of: dict[str, int] = {}
        seen: Counter[str] = Counter()
        for ticket_id, payload in rows:
            mid = payload.get("message_id")
            seen[mid] += 1
            ticket_of[mid] = ticket_id
        expected = [f"<{prefix}-{i}@customers.example>" for i in range(args.emails)]
        expected += [f"<{prefix}-late-{i}@customers.example>" for i in range(args.latency_samples)]
        threaded = sum(1 for mid, parent in parent_of.items() if mid in ticket_of and ticket_of.get(parent) == ticket_of[mid])
        elapsed = t1 - t0
        return {
            "emails": args.emails,
            "emails_per_s": round(args.emails / elapsed, 1) if elapsed > 0 else None,
            "ingest_seconds": round(elapsed, 3),
            "append_seconds": round(t0 - t_append, 3),
            "latency_p50_ms": rounded(percentile(latencies, 0.5), scale=1000),
            "latency_p95_ms": rounded(percentile(latencies, 0.95), scale=1000),
            "latency_samples": len(latencies),
            "latency_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "duplicates": sum(n - 1 for n in seen.values() if n > 1),
            "lost": sum(1 for mid in expected if mid not in seen),
            "quarantined": importer.quarantined,
            "threaded_correctly": threaded,
            "replies": len(parent_of),
            "batch": args.batch,
            "acknowledgements": not args.no_acknowledge,
            "imap": "dovecot (throw-away)" if server else "--imap-url",
            "database": "sqlite",
        }
    finally:
        await channel.stop()
        await services.db.close()
        if server is not None:
            server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="frontdesk bench email", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    parser.add_argument("-n", "--emails", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--latency-gap", type=float, default=0.3, help="seconds between the one-by-one mails")
    parser.add_argument("--batch", type=int, default=200, help="messages fetched and committed together")
    parser.add_argument("--no-acknowledge", action="store_true", help="do not queue acknowledgements (on by default)")
    parser.add_argument("--imap-url", help="imap://user:password@host:port/folder instead of a throw-away Dovecot")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.json else logging.INFO)
    result = asyncio.run(run(args))
    if not args.json:
        for key, value in result.items():
            print(f"{key:>20}: {value}", file=sys.stderr)
    print(json.dumps(result))
    return 0
