"""Customer mail in a real Dovecot becomes tickets: charsets, HTML, attachments, threading."""

from __future__ import annotations

from sqlalchemy import func, select

from channels.plugin import EmailChannel
from channels.records import MailAttachment, MailboxCheckpoint
from channels.samples import Attachment, compose
from channels.settings import MailboxSettings
from config.services import Services
from core.records import Customer, EntryKind, Ticket, TimelineEntry
from mail.helpers import append, eventually, mailbox_reading


async def email_entries(services: Services) -> list[TimelineEntry]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN).order_by(TimelineEntry.id)
        return list((await session.execute(stmt)).scalars())


async def ingest_until(channel: EmailChannel, services: Services, count: int) -> list[TimelineEntry]:
    channel.start(outbox=False)

    async def enough() -> list[TimelineEntry] | None:
        entries = await email_entries(services)
        return entries if len(entries) >= count else None

    try:
        return await eventually(enough)
    except AssertionError:
        raise AssertionError(str(services.health.snapshot())) from None


async def test_chinese_english_and_spanish_mail_become_tickets(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    await append(
        support,
        compose(sender="wang@example.cn", sender_name="王芳", subject="退款申请 镕", body="订单没有收到，请退款。镕",
                charset="gb2312", codec="gbk",
                attachments=[Attachment("发票镕.pdf", "application/pdf", b"%PDF-1.4 x")]),
        compose(sender="chen@example.tw", subject="關於訂單的問題", body="繁體中文測試", charset="big5",
                attachments=[Attachment("發票.txt", "text/plain", "內容".encode("big5"), "rfc2047")]),
        compose(sender="john@example.com", subject="Cannot log in", body="plain text wins",
                html="<p>Hello <script>alert(1)</script><b>there</b></p>"),
        compose(sender="lucia@example.es", subject="Factura incorrecta, señor", body="¿Pueden corregirla?",
                charset="iso-8859-1"),
        flags="(\\Seen)",  # already read by a person in another client: still imported
    )
    entries = await ingest_until(channel, mail_services, 4)
    await mailbox_reading(mail_services, detail="idle;")
    by_sender = {e.payload["from"]: e.payload for e in entries}
    assert by_sender["wang@example.cn"]["subject"] == "退款申请 镕"
    assert by_sender["wang@example.cn"]["text"].strip() == "订单没有收到，请退款。镕"
    assert by_sender["wang@example.cn"]["from_name"] == "王芳"
    assert [a["filename"] for a in by_sender["wang@example.cn"]["attachments"]] == ["发票镕.pdf"]
    assert by_sender["chen@example.tw"]["subject"] == "關於訂單的問題"
    assert by_sender["chen@example.tw"]["attachments"][0]["filename"] == "發票.txt"
    john = by_sender["john@example.com"]
    assert john["text"].strip() == "plain text wins"
    assert "<b>there</b>" in john["html"] and "script" not in john["html"]
    assert by_sender["lucia@example.es"]["subject"] == "Factura incorrecta, señor"
    async with mail_services.db.session() as session:
        attachment = (await session.execute(select(MailAttachment).where(MailAttachment.filename == "发票镕.pdf"))).scalar_one()
        assert attachment.data == b"%PDF-1.4 x" and attachment.size == 10
        customer = (await session.execute(select(Customer).where(Customer.name == "王芳"))).scalar_one()
        assert customer.tier == "new"
        tickets = (await session.execute(select(func.count()).select_from(Ticket))).scalar()
        assert tickets == 4
        cp = await session.get(MailboxCheckpoint, "support")
        assert cp is not None and cp.last_uid == 4
