"""No code reaches people: the console, the ticket page (call, email, SLA, hand-over entries),
the queue, the wallboard and the reports, in English, Chinese and Spanish, show plain words —
never a snake_case identifier, a PBX interface (``PJSIP/1002``), a PBX reply
("Interface paused successfully") or a Python value (``None``, ``{...}``)."""

from __future__ import annotations

import html.parser
import re

import pytest
from test_cti_console import next_event, ws_of
from web_fixtures import StaffClient, WebSite

from core.records import EntryKind
from cti.plugin import CTI
from cti.simulator import AmiSimulator, QueueCall

LANGUAGES = ("en", "zh_CN", "es")
RAW = {
    "a snake_case code": re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b"),
    "a PBX interface": re.compile(r"\b(?:PJSIP|SIP|IAX2|DAHDI|Local)/"),
    "a PBX reply": re.compile(r"successfully|Unable to|No such channel|Originate|Response:|Interface ", re.IGNORECASE),
    "a Python value": re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|[{}]|\[\]|\(\)"),
    "a hyphenated code": re.compile(r"\b[a-z]+-[a-z]+(?:-[a-z]+)*\b"),
}
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


class VisibleText(html.parser.HTMLParser):
    """What a person reads: text outside scripts and styles, and the attributes a browser shows."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts += [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def raw_codes(page: str) -> list[str]:
    reader = VisibleText()
    reader.feed(page)
    found = []
    for text in reader.parts:
        for what, pattern in RAW.items():
            for match in pattern.finditer(text):
                found.append(f"{what}: {match.group(0)!r} in {text[:120]!r}")
    return found


async def _seed(site: WebSite, sim: AmiSimulator) -> int:
    """A recorded call (answered by Agent2, then a missed one for Agent), and on its ticket an
    email, SLA alerts, a hand-over and a callback request."""
    agent2 = await site.login("agent2")
    ws = await ws_of(agent2)
    sim.spawn(sim.play(QueueCall("+8613800138000", "Zhang Wei", ring=["PJSIP/1001", "PJSIP/1002"], answered_by="PJSIP/1002",
                                 ring_s=0.1, talk_s=0.2).steps()))
    while not (recorded := await next_event(ws, "cti.call_recorded"))["ended"]:
        pass
    sim.spawn(sim.play(QueueCall("+14155550199", ring=["PJSIP/1001"], answered_by=None, ring_s=0.1, abandon_s=0.2).steps()))
    await sim_idle(site, sim)
    ticket_id = int(recorded["ticket_id"])
    desk = site.services.desk
    async with site.services.db.session() as session:
        await desk.append(session, ticket_id, EntryKind.EMAIL_IN, {"from": "min@example.com", "subject": "Refund", "text": "It broke."})
        await desk.append(session, ticket_id, EntryKind.EMAIL_OUT, {"to": ["min@example.com"], "subject": "Re: Refund", "text": "Sorry!"})
        await desk.append(session, ticket_id, EntryKind.ALERT, {"event": "escalated", "target": "first_response", "level": 1,
                                                                "breached": True, "notified": [{"channel": "email", "name": "Sue", "to": "sue@example.com"}]})
        await desk.append(session, ticket_id, EntryKind.ALERT, {"event": "acknowledged", "by": "Sue", "via": "web"})
        await desk.append(session, ticket_id, EntryKind.CALL, {"callback": True, "number": "+14155550199", "queue": "support",
                                                               "wait_s": 12.0, "timeout": False, "linkedid": "1.2"})
        await desk.append(session, ticket_id, EntryKind.STATUS_CHANGE, {"from": "new", "to": "pending-customer"})
        await desk.commit_and_publish(session)
    return ticket_id


async def sim_idle(site: WebSite, sim: AmiSimulator) -> None:
    from cti_fixtures import until

    await until(lambda: not sim.pbx.channels)
    await site.server.app[CTI].idle()


async def _language(client: StaffClient, language: str) -> None:
    await client.api("POST", "/preferences/language", data={"language": language, "next": "/queue"})


@pytest.mark.parametrize("language", LANGUAGES)
async def test_pages_show_plain_words_in_every_language(phone_site: tuple[WebSite, AmiSimulator], language: str) -> None:
    site, sim = phone_site
    ticket_id = await _seed(site, sim)
    agent, supervisor = await site.login("agent"), await site.login("supervisor")
    await agent.api("POST", f"/tickets/{ticket_id}/handover", data={"csrf_token": agent.csrf_token, "queue": "billing", "note": "wrong queue"})
    for client in (agent, supervisor):
        await _language(client, language)
    pages = {
        "queue": await agent.api("GET", "/queue"),
        "ticket": await agent.api("GET", f"/tickets/{ticket_id}"),
        "recent calls": await agent.api("GET", "/console/recent-calls"),
        "wallboard": await supervisor.api("GET", "/wallboard"),
        "reports": await supervisor.api("GET", "/reports"),
    }
    assert "call-agent" in pages["ticket"] and "cti-recent-call" in pages["recent calls"]
    found = {name: raw_codes(page) for name, page in pages.items()}
    assert {name: codes for name, codes in found.items() if codes} == {}


@pytest.mark.parametrize(("language", "words"), [("en", "permanent member of the queue"), ("zh_CN", "固定成员"), ("es", "miembro fijo")])
async def test_a_pbx_refusal_is_told_in_plain_words(phone_site: tuple[WebSite, AmiSimulator], language: str, words: str) -> None:
    site, _sim = phone_site
    agent = await site.login("agent")
    await _language(agent, language)
    refusal = await agent.api("POST", "/api/v1/cti/queues/support/logout", json={}, status=409)
    assert words in refusal["message"] and not RAW["a PBX reply"].search(refusal["message"])
    assert "dynamic" not in refusal["message"]
    done = await agent.api("POST", "/api/v1/cti/status", json={"state": "paused", "reason": "Lunch"})
    assert done["message"] == "paused"  # our word for it, not "Interface paused successfully"
