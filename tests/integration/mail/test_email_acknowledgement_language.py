"""The built-in acknowledgement speaks the customer's language: the one on file, else the
language their mail is written in, else English."""

from __future__ import annotations

from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.samples import compose
from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.records import OutboxMessage


async def acknowledgement_to(services: Services, recipient: str) -> OutboxMessage:
    async with services.db.session() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
        return (await session.execute(stmt)).scalars().one()


async def test_customers_are_acknowledged_in_their_language(channel: EmailChannel, mail_services: Services) -> None:
    async with mail_services.db.transaction() as session:
        await create_customer(session, Actor.system(), CustomerDraft(name="Wang Fang", emails=["wang@example.cn"], language="zh"))
    mails = {
        "lucia@example.es": ("Pedido sin entregar", "Hola, mi pedido no ha llegado todavía. ¿Pueden ayudarme? Gracias."),
        "wang@example.cn": ("Order", "Where is my order?"),  # on file: Chinese, whatever the mail's language
        "li@example.cn": ("订单问题", "你好，我的订单还没有到。"),
        "sam@example.com": ("Parcel", "Where is my parcel? Thanks."),
    }
    for sender, (subject, body) in mails.items():
        result = await channel.ingest_raw("support", compose(sender=sender, subject=subject, body=body))
        assert result.acknowledged

    spanish = await acknowledgement_to(mail_services, "lucia@example.es")
    assert spanish.subject.endswith("Hemos recibido su mensaje: Pedido sin entregar")
    assert "gracias por escribirnos" in spanish.body and "thank you" not in spanish.body
    on_file = await acknowledgement_to(mail_services, "wang@example.cn")
    assert "我们已收到您的邮件" in on_file.subject and "感谢您的来信" in on_file.body
    guessed = await acknowledgement_to(mail_services, "li@example.cn")
    assert "我们已收到您的邮件：订单问题" in guessed.subject
    english = await acknowledgement_to(mail_services, "sam@example.com")
    assert english.subject.endswith("We received your message: Parcel") and "thank you for writing" in english.body
