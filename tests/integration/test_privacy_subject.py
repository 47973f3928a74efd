"""Subject access and erasure, as an admin checks them: the archive holds every row the
database holds about the customer (tables enumerated from the metadata, so a new table is
caught), and after an erasure none of the customer's words is left anywhere."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

from privacy_checks import archive_keys, held_in_database, missing_from_archive, personal_leftovers
from sqlalchemy import func, select
from web_fixtures import WebSite

from channels.records import MailAttachment, MailMessage, QuarantinedMail, SavedReplyDraft
from core.records import (
    AuditLog,
    Customer,
    CustomerEmail,
    CustomerPhone,
    OutboxMessage,
    Ticket,
    TicketTag,
    TimelineEntry,
)
from cti.records import CallRecord, CallSegment
from privacy.records import RecordView
from routing.records import RoutedContact, TicketRating

NAME = "Zhang Wei Liang"
EMAIL = "zhang.weiliang@example.com"
PHONE = "+8613800138000"
BODY = "Please deliver to 88 Jianguo Road, flat 1702"
ATTACHMENT = b"%PDF-1.4 invoice of Zhang Wei Liang"
PERSONAL = [NAME, EMAIL, PHONE, "13800138000", BODY, "Jianguo Road", "Zhang Wei Liang"]
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def seed(site: WebSite) -> tuple[int, int, list[int]]:
    """A customer with something in most tables, and a bystander who must stay untouched."""
    agent_id = site.users["agent"].id
    async with site.services.db.transaction() as session:
        customer = Customer(name=NAME, notes=f"VIP, lives at {BODY}", external_id="CRM-99812", tags=["vip"])
        customer.phones.append(CustomerPhone(e164=PHONE, label="mobile"))
        customer.emails.append(CustomerEmail(address=EMAIL))
        other = Customer(name="Ana Ruiz")
        other.emails.append(CustomerEmail(address="ana@example.es"))
        session.add_all([customer, other])
        await session.flush()
        tickets = []
        for subject, owner in ((f"Refund for {NAME}", customer), ("Missing parcel", customer), ("Hola", other)):
            ticket = Ticket(subject=subject, status="solved", channel="email", queue="support",
                            customer_id=owner.id, created_at=AT, updated_at=AT, solved_at=AT)
            session.add(ticket)
            tickets.append(ticket)
        await session.flush()
        first = tickets[0]
        first.complaint_category, first.complained_at = "bad-rating", AT
        entry = TimelineEntry(ticket_id=first.id, kind="email_in", created_at=AT, dedup_key="<m1@mail.example>",
                              payload={"from": EMAIL, "from_name": NAME, "subject": first.subject, "text": BODY})
        session.add_all([
            entry,
            TimelineEntry(ticket_id=first.id, kind="note", author_id=agent_id, payload={"text": f"called {PHONE}"}),
            TimelineEntry(ticket_id=first.id, kind="status", payload={"status": "solved"}),
            TimelineEntry(ticket_id=tickets[2].id, kind="note", payload={"text": "bystander"}),
            TicketTag(ticket_id=first.id, tag="refund"),
            TicketRating(ticket_id=first.id, rating="bad", comment=f"{NAME} is unhappy", agent_id=agent_id,
                         queue="support"),
            SavedReplyDraft(ticket_id=first.id, user_id=agent_id, to=EMAIL, body=f"Dear {NAME}"),
            OutboxMessage(channel="email", recipient=EMAIL, subject="Re: refund", body=f"Dear {NAME}",
                          ticket_id=first.id),
            OutboxMessage(channel="email", recipient=EMAIL.upper(), subject="Sign in", status="sent",  # about no ticket
                          body=f"Hello {NAME}, your sign-in link"),
            RoutedContact(channel="email", customer_id=customer.id, address=EMAIL, ticket_id=first.id,
                          queue="support", priority=2, contact={"from": EMAIL, "subject": first.subject}),
            RecordView(user_id=agent_id, customer_id=customer.id, via="page", at=AT),
            RecordView(user_id=agent_id, ticket_id=tickets[1].id, via="api", at=AT),
            AuditLog(actor_id=agent_id, action="customer.create", entity="customer", entity_id=str(customer.id),
                     after={"name": NAME, "emails": [EMAIL]}),
        ])
        await session.flush()
        message = MailMessage(direction="in", mailbox="INBOX", message_id="<m1@mail.example>", ticket_id=first.id,
                              entry_id=entry.id, sender=EMAIL, subject=first.subject,
                              raw=f"From: {NAME} <{EMAIL}>\r\n\r\n{BODY}".encode())
        session.add(message)
        await session.flush()
        call = CallRecord(pbx="pbx1", linkedid="1733000000.1", direction="inbound", number=PHONE, caller_name=NAME,
                          customer_id=customer.id, agent_id=agent_id, ticket_id=tickets[1].id, outcome="answered",
                          talk_s=42.0)
        session.add_all([
            MailAttachment(message_row_id=message.id, filename="invoice.pdf", content_type="application/pdf",
                           size=len(ATTACHMENT), data=ATTACHMENT),
            QuarantinedMail(mailbox="INBOX", size=10, content_hash="h1", error=f"bad header from {EMAIL}",
                            raw=b"x", message_row_id=message.id),
            call,
        ])
        await session.flush()
        session.add(CallSegment(call_id=call.id, position=0, agent_id=agent_id, interface="PJSIP/alice",
                                started_at=AT, talk_s=42.0))
        return customer.id, other.id, [t.id for t in tickets]


async def test_the_archive_holds_every_row_the_database_holds_about_the_customer(site: WebSite) -> None:
    customer_id, other_id, tickets = await seed(site)
    in_database = await held_in_database(site.services.db, customer_id)  # before the export audits itself
    admin = await site.login("admin")
    response = await admin.http.get(f"/api/v1/customers/{customer_id}/export")
    assert response.status == 200 and response.content_type == "application/zip"
    assert f"customer-{customer_id}-" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    in_archive = archive_keys(archive)
    # the seed reaches far: contacts, tickets and their entries, mail and its attachment, calls...
    assert {"customer_phones", "customer_emails", "tickets", "timeline_entries", "mail_messages",
            "mail_attachments", "calls", "call_segments", "ticket_ratings", "record_views", "outbox",
            "routed_contacts", "audit_log", "search_documents"} <= set(in_database)
    assert missing_from_archive(in_database, in_archive) == {}
    assert set(in_archive) == set(in_database)  # and nothing that is not theirs
    assert all(in_archive[t] == in_database[t] for t in in_database)

    profile = json.loads(archive.read("customer.json"))
    assert profile["name"] == NAME and profile["phones"] == [PHONE] and profile["emails"] == [EMAIL]
    attachment = json.loads(archive.read("tables/mail_attachments.json"))[0]
    assert archive.read(attachment["data"]["file"]) == ATTACHMENT
    assert attachment["data"]["file"].endswith("invoice.pdf")
    entries = json.loads(archive.read("tables/timeline_entries.json"))
    assert BODY in {e["payload"].get("text") for e in entries}
    assert tickets[2] not in {t["id"] for t in json.loads(archive.read("tables/tickets.json"))}
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["customer_id"] == customer_id and manifest["tables"]["tickets"] == 2

    async with site.services.db.session() as session:
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "customer.export"))).scalars().one()
    assert audit.entity_id == str(customer_id) and audit.actor_id == site.users["admin"].id
    assert audit.after and audit.after["tables"]["tickets"] == 2 and NAME not in json.dumps(audit.after)

    # not for agents, not for a customer that does not exist
    agent = await site.login("agent")
    assert (await agent.http.get(f"/api/v1/customers/{customer_id}/export")).status == 403
    refused = await admin.api("GET", "/api/v1/customers/99999999/export", status=404)
    assert refused["error"] == "not-found"
    assert (await admin.http.get("/api/v1/customers/abc/export")).status == 400
    assert (await admin.http.get(f"/api/v1/customers/{2**40}/export")).status == 404  # past a 32-bit id column
    assert other_id != customer_id


async def test_an_erased_customer_leaves_no_personal_value_and_the_counts_stay(site: WebSite) -> None:
    customer_id, other_id, tickets = await seed(site)
    assert await personal_leftovers(site.services.db, PERSONAL)  # the search finds them before
    admin = await site.login("admin")

    # a wrong confirmation, another customer's name, a forged id: refused, nothing changed
    wrong = await admin.api("POST", f"/api/v1/customers/{customer_id}/erase", {"confirmation": "Ana Ruiz"}, status=400)
    assert wrong["details"]["field"] == "confirmation"
    assert (await admin.api("POST", "/api/v1/customers/99999999/erase", {"confirmation": NAME},
                            status=404))["error"] == "not-found"
    await admin.api("POST", f"/api/v1/customers/{2**40}/erase", {"confirmation": NAME}, status=404)
    await admin.api("POST", f"/api/v1/customers/{customer_id}/erase", {"confirmation": 12}, status=400)
    agent = await site.login("agent")
    await agent.api("POST", f"/api/v1/customers/{customer_id}/erase", {"confirmation": NAME}, status=403)
    page = await admin.http.post(f"/customers/{customer_id}/erase",
                                 data={"csrf_token": admin.csrf_token or "", "confirmation": "nope"})
    assert page.status == 400 and "privacy-error" in await page.text()
    assert len(await personal_leftovers(site.services.db, PERSONAL)) > 5

    done = await admin.api("POST", f"/api/v1/customers/{customer_id}/erase", {"confirmation": "zhang wei liang"})
    assert done["erasure"]["deleted"]["customer_phones"] == 1 and done["erasure"]["kept"]["tickets"] == 2
    assert await personal_leftovers(site.services.db, PERSONAL) == []
    await admin.api("POST", f"/api/v1/customers/{customer_id}/erase", {"confirmation": "(erased)"}, status=409)

    async with site.services.db.session() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None and customer.erased_at is not None
        # the counts reports read are unchanged
        assert await session.scalar(select(func.count()).select_from(Ticket).where(Ticket.customer_id == customer_id)) == 2
        call = (await session.execute(select(CallRecord))).scalars().one()
        assert (call.customer_id, call.outcome, call.talk_s, call.number) == (customer_id, "answered", 42.0, "")
        rating = (await session.execute(select(TicketRating))).scalars().one()
        assert (rating.rating, rating.comment) == ("bad", "")
        status = (await session.execute(select(TimelineEntry).where(TimelineEntry.kind == "status"))).scalars().one()
        assert status.payload == {"status": "solved"}
        reply, sign_in = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        assert reply.status == "failed" and reply.recipient == ""
        assert sign_in.status == "sent" and sign_in.recipient == sign_in.body == ""  # the mail about no ticket too
        first = await session.get(Ticket, tickets[0])
        assert first is not None and first.complaint_category == "bad-rating"  # the complaint still counts
        assert await session.scalar(select(func.count()).select_from(MailAttachment)) == 0
        # the bystander keeps everything
        other = await session.get(Customer, other_id)
        assert other is not None and other.name == "Ana Ruiz" and other.erased_at is None
        assert [e.address for e in other.emails] == ["ana@example.es"]
        bystander = await session.get(Ticket, tickets[2])
        assert bystander is not None and bystander.subject == "Hola"
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "customer.erase"))).scalars().one()
        assert audit.entity_id == str(customer_id) and audit.actor_id == site.users["admin"].id

    privacy = await admin.http.get(f"/customers/{customer_id}/privacy")
    assert privacy.status == 200 and "erased-notice" in await privacy.text()
