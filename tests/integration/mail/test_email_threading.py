"""Mail threads onto the right ticket: references, the ticket tag, and replies fetched before their original."""

from __future__ import annotations

from sqlalchemy import select

from channels.plugin import EmailChannel
from channels.records import MailboxCheckpoint
from channels.replies import ReplyDraft
from channels.samples import compose
from channels.settings import MailboxSettings
from config.services import Services
from core.records import EntryKind, TimelineEntry
from mail.helpers import append, eventually, make_agent


async def entries_by_sender(services: Services) -> dict[str, list[int]]:
    async with services.db.session() as session:
        stmt = select(TimelineEntry).where(TimelineEntry.kind == EntryKind.EMAIL_IN).order_by(TimelineEntry.id)
        out: dict[str, list[int]] = {}
        for entry in (await session.execute(stmt)).scalars():
            out.setdefault(entry.payload["from"], []).append(entry.ticket_id)
        return out


async def wait_for(services: Services, count: int) -> dict[str, list[int]]:
    async def enough() -> dict[str, list[int]] | None:
        found = await entries_by_sender(services)
        return found if sum(len(v) for v in found.values()) >= count else None

    return await eventually(enough)


async def test_replies_join_the_ticket_by_reference_and_by_tag(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    await append(support, compose(sender="ana@example.com", subject="Broken device", message_id="<first@example.com>"))
    channel.start(outbox=False)
    first = (await wait_for(mail_services, 1))["ana@example.com"][0]
    agent = await make_agent(mail_services)
    sent = await channel.replies.send(agent, first, ReplyDraft(subject="Re: Broken device", body="Please send a photo."))
    # Other people (not the ticket's customer) answer our reply and quote the ticket tag.
    await append(
        support,
        compose(sender="colleague@example.com", subject="Re: Broken device", in_reply_to=sent.message_id,
                references=["<first@example.com>", sent.message_id]),
        compose(sender="boss@example.com", subject=f"Re: [#{first + 1000}] Broken device"),
        compose(sender="stranger@example.com", subject="Another matter"),
    )
    found = await wait_for(mail_services, 4)
    assert found["colleague@example.com"] == [first]
    assert found["boss@example.com"] == [first]
    assert found["stranger@example.com"] != [first]


async def test_a_reply_fetched_before_its_original_ends_on_the_same_ticket(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    # A backlog in the wrong order: the answer (from a colleague) first, then the original.
    await append(
        support,
        compose(sender="colleague@example.com", subject="Re: Order 77", message_id="<reply@x>",
                in_reply_to="<orig@x>", references=["<orig@x>"]),
    )
    channel.start(outbox=False)
    await wait_for(mail_services, 1)
    await append(
        support,
        compose(sender="owner@example.com", subject="Order 77", message_id="<orig@x>"),
        compose(sender="third@example.com", subject="Re: Order 77", in_reply_to="<reply@x>",
                references=["<orig@x>", "<reply@x>"]),
    )
    found = await wait_for(mail_services, 3)
    assert found["owner@example.com"] == found["colleague@example.com"] == found["third@example.com"]


async def test_a_new_uidvalidity_neither_loses_nor_reimports_mail(
    channel: EmailChannel, mail_services: Services, support: MailboxSettings
) -> None:
    from channels.imap import connect

    folder_box = support.model_copy(update={"folder": "Support"})
    client = await connect(folder_box)
    await client.create("Support")
    await client.logout()
    one = compose(sender="a@example.com", subject="one")
    two = compose(sender="b@example.com", subject="two")
    await append(folder_box, one, two)
    channel.ingests["support"].mailbox = folder_box
    channel.importers["support"].mailbox = folder_box
    channel.start(outbox=False)
    await wait_for(mail_services, 2)
    await channel.stop()
    async with mail_services.db.session() as session:
        before = await session.get(MailboxCheckpoint, "support")
        assert before is not None
        old_validity = before.uidvalidity
    # The folder is recreated (a server migration): same mail, new UIDs, new UIDVALIDITY, plus a new one.
    client = await connect(folder_box)
    assert (await client.delete("Support")).result == "OK"
    assert (await client.create("Support")).result == "OK"
    await client.logout()
    await append(folder_box, one, two, compose(sender="c@example.com", subject="three"))
    channel.start(outbox=False)
    found = await wait_for(mail_services, 3)

    async def moved_on() -> bool:
        async with mail_services.db.session() as session:
            cp = await session.get(MailboxCheckpoint, "support", populate_existing=True)
            return cp is not None and cp.uidvalidity != old_validity and cp.last_uid == 3

    await eventually(moved_on)
    assert sorted(found) == ["a@example.com", "b@example.com", "c@example.com"]
    assert all(len(tickets) == 1 for tickets in found.values())
    assert channel.importers["support"].duplicates == 2

