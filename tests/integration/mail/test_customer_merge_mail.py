"""Mail from an address of a customer merged into another lands on the survivor."""

from __future__ import annotations

from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.samples import compose
from config.services import Services
from core.auth import Actor
from core.customer_merging import merge_customers
from core.customers import CustomerDraft, create_customer
from core.records import Customer, Ticket


async def test_mail_from_a_merged_address_lands_on_the_survivor(channel: EmailChannel, mail_services: Services) -> None:
    async with mail_services.db.transaction() as session:
        survivor = await create_customer(session, Actor.system(), CustomerDraft(name="Lucía", emails=["lucia@example.es"]))
        other = await create_customer(session, Actor.system(), CustomerDraft(name="Lucia P", emails=["lp@work.example"]))
        await merge_customers(session, Actor.system(), survivor.id, other.id, mail_services.clock.now())
    result = await channel.ingest_raw("support", compose(sender="lp@work.example", subject="Factura", body="Hola"))
    assert result is not None
    async with mail_services.db.session() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.subject == "Factura"))).scalar_one()
        assert ticket.customer_id == survivor.id
        assert (await session.get_one(Customer, other.id)).merged_into_id == survivor.id
        customers = (await session.execute(select(Customer.id))).scalars().all()
        assert sorted(customers) == sorted([survivor.id, other.id])  # no new customer for the address
