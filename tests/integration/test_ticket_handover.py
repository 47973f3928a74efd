"""Moving a ticket to another queue and handing it to a colleague from its page: the desk's own
operations (reused by bulk actions and macros), each step on the timeline and in the audit log."""

from __future__ import annotations

from sqlalchemy import select
from test_console_pages import form_post
from test_routing_actions import _mail
from web_fixtures import WebSite

from core.auth import Actor
from core.errors import InvalidInput
from core.records import AuditLog, EntryKind, Ticket, TimelineEntry


async def test_an_agent_moves_a_ticket_and_hands_it_to_a_colleague(site: WebSite) -> None:
    ticket_id = await _mail(site.services, None, "Refund for order 1234")
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    assert f'action="/tickets/{ticket_id}/handover"' in page and "Hand over" in page
    status, location, _body = await form_post(agent, f"/tickets/{ticket_id}/handover", queue="billing",
                                              user_id=str(site.users["agent2"].id), note="billing question")
    assert (status, location) == (303, f"/tickets/{ticket_id}")
    async with site.services.db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None and (ticket.queue, ticket.assignee_id) == ("billing", site.users["agent2"].id)
        entries = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket_id)
                                         .order_by(TimelineEntry.id))).scalars().all()
        audit = (await session.execute(select(AuditLog.action, AuditLog.actor_id).where(AuditLog.entity_id == str(ticket_id)))).all()
    moved = [e for e in entries if e.kind == EntryKind.QUEUE_MOVE]
    assert [(e.payload["to"], e.payload["note"], e.author_id) for e in moved] == [("billing", "billing question", site.users["agent"].id)]
    assert [e.payload["to"] for e in entries if e.kind == EntryKind.ASSIGNMENT] == [site.users["agent2"].id]
    assert {("ticket.queue", site.users["agent"].id), ("ticket.assign", site.users["agent"].id)} <= set(audit)
    page = await agent.api("GET", f"/tickets/{ticket_id}")
    assert "billing question" in page and "Agent2" in page and "to billing" in page
    # It is Agent2's now: Agent may not hand it to someone else (a supervisor may).
    status, _location, _body = await form_post(agent, f"/tickets/{ticket_id}/handover", queue="billing",
                                               user_id=str(site.users["supervisor"].id))
    assert status == 403
    await agent.api("POST", "/preferences/language", data={"language": "zh_CN", "next": "/queue"})
    assert "从队列" in await agent.api("GET", f"/tickets/{ticket_id}/timeline")


async def test_hand_over_needs_a_queue_or_a_colleague(site: WebSite) -> None:
    ticket_id = await _mail(site.services, None, "Where is my parcel?")
    actor = Actor(site.users["agent"].id, "agent", frozenset({"agent"}))  # type: ignore[arg-type]
    async with site.services.db.session() as session:
        try:
            await site.services.desk.hand_over(session, actor, ticket_id, "", None)
        except InvalidInput as exc:
            assert "choose a queue or a colleague" in str(exc)
        else:
            raise AssertionError("refused")
        ticket = await site.services.desk.move_to_queue(session, actor, ticket_id, "  sales ")
        assert ticket.queue == "sales"
        same = await site.services.desk.move_to_queue(session, actor, ticket_id, "sales")
        assert same.queue == "sales"
        moves = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == ticket_id,
                                                                   TimelineEntry.kind == EntryKind.QUEUE_MOVE))).scalars().all()
        assert len(moves) == 1  # moving where it already is writes nothing
