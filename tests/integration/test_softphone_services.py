"""The softphone's two services against a recording AMI link (no PBX): per-session SIP
credentials written with UpdateConfig and deleted at log-out, and the "phone offline" pause
that follows the browser phone's registrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from web_fixtures import WebSite

from config.cli import main
from config.services import Services
from config.settings import Settings
from core.auth import Actor
from core.records import User
from core.users import add_user
from cti.agent_lines import AgentLine
from cti.control import PbxLine
from cti.errors import PbxRefused
from cti.link import ActionResult
from cti.settings import PbxSettings
from cti.softphone import SoftphoneCredentialService
from cti.softphone_presence import PHONE_OFFLINE, SoftphonePresence
from cti.tracker import CallTracker


class RecordingLink:
    """Answers like Asterisk would: UpdateConfig's DelCat of an absent category is refused."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.categories: set[str] = set()
        self.contacts: list[dict[str, str]] = []  # what PJSIPShowContacts lists

    async def action(self, name: str, headers: dict[str, Any] | None = None, **_kw: Any) -> ActionResult:
        fields = {k: v for k, v in (headers or {}).items() if v is not None}
        self.actions.append((name, fields))
        if name == "UpdateConfig":
            if fields["Action-000000"] == "DelCat":
                if fields["Cat-000000"] not in self.categories:
                    raise PbxRefused("Delete category did not complete successfully")
                self.categories.discard(fields["Cat-000000"])
            elif fields["Action-000000"] == "NewCat":
                self.categories.add(fields["Cat-000000"])
        if name == "PJSIPShowContacts":
            return ActionResult({"Response": "Success"}, [{"Event": "ContactList", **c} for c in self.contacts])
        return ActionResult({"Response": "Success"})

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for action, fields in self.actions if action == name]


def _line(**overrides: Any) -> tuple[PbxLine, RecordingLink]:
    settings = PbxSettings.model_validate({"name": "live", "username": "cti", "secret": "s",
                                           "softphone_ws_url": "ws://127.0.0.1:8088/ws",
                                           "softphone_offline_grace_s": 0.2, **overrides})
    link = RecordingLink()
    return PbxLine(settings, link, CallTracker("live", lambda _i: None)), link  # type: ignore[arg-type]


async def _people(services: Services) -> tuple[Actor, Actor]:
    async with services.db.transaction() as session:
        frank = await add_user(session, "frank", "long enough pw", "Frank", ["agent"], extension="1006", softphone=True)
        desk = await add_user(session, "desk", "long enough pw", "Desk", ["agent"], extension="1001")
    return Actor.of(frank), Actor.of(desk)


async def test_each_console_session_gets_its_own_password_and_log_out_deletes_it(services: Services) -> None:
    line, link = _line()
    credentials = SoftphoneCredentialService({"live": line}, services.db)
    frank, desk = await _people(services)
    assert await credentials.open(desk, "session-a") is None  # a desk phone: nothing to hand out
    assert link.actions == []

    first = await credentials.open(frank, "session-a")
    assert first is not None
    body = first.as_dict()
    assert body["uri"] == "sip:1006@127.0.0.1" and body["ws_url"] == "ws://127.0.0.1:8088/ws"
    [written] = [f for f in link.named("UpdateConfig") if f["Action-000000"] == "NewCat"]
    assert written["Cat-000000"] == "1006-softphone" and written["Reload"] == "res_pjsip.so"
    assert written["DstFilename"] == "pjsip_softphone.conf"
    assert {written[f"Var-00000{n}"]: written[f"Value-00000{n}"] for n in range(1, 5)} == {
        "type": "auth", "auth_type": "userpass", "username": "1006", "password": first.password}
    assert len(first.password) >= 24

    link.actions.clear()
    assert await credentials.open(frank, "session-a") == first  # another page of the same login
    assert link.actions == []
    second = await credentials.open(frank, "session-b")  # a new login: a new password replaces it
    assert second is not None and second.password != first.password
    assert link.categories == {"1006-softphone"}

    await credentials.revoke(frank.user_id or 0)
    assert link.categories == set()
    assert link.named("UpdateConfig")[-1]["Reload"] == "res_pjsip.so"
    assert credentials.ws_urls() == ["ws://127.0.0.1:8088/ws"]


async def test_without_a_websocket_url_no_pbx_serves_browser_phones(services: Services) -> None:
    line, _link = _line(softphone_ws_url=None)
    frank, _desk = await _people(services)
    with pytest.raises(Exception, match="softphone_ws_url"):
        await SoftphoneCredentialService({"live": line}, services.db).open(frank, "s")


def _contact(status: str, uri: str = "sip:abc@127.0.0.1;transport=ws", aor: str = "1006") -> dict[str, str]:
    return {"Event": "ContactStatus", "ContactStatus": status, "AOR": aor, "URI": uri, "EndpointName": aor}


async def test_an_unregistered_browser_phone_pauses_its_agent_after_the_grace_and_is_made_ready_on_return(services: Services) -> None:
    line, link = _line()
    presence = SoftphonePresence(services.db)
    await _people(services)
    await presence.contact_changed(line, _contact("Created"))
    await presence.contact_changed(line, _contact("Removed"))
    await presence.contact_changed(line, _contact("Created", "sip:new@127.0.0.1;transport=ws"))  # a page load
    await asyncio.sleep(0.4)
    assert link.named("QueuePause") == []

    await presence.contact_changed(line, _contact("Removed", "sip:new@127.0.0.1;transport=ws"))
    await asyncio.sleep(0.4)
    assert link.named("QueuePause") == [{"Interface": "PJSIP/1006", "Paused": "true", "Reason": PHONE_OFFLINE}]
    await presence.contact_changed(line, _contact("Reachable", "sip:back@127.0.0.1;transport=ws"))
    assert link.named("QueuePause")[-1] == {"Interface": "PJSIP/1006", "Paused": "false"}

    # Desk phones and agents already on a break are left alone.
    link.actions.clear()
    await presence.contact_changed(line, _contact("Removed", aor="1001"))
    line.tracker.agents.lines["PJSIP/1006"] = AgentLine("PJSIP/1006", {"support": (True, "Lunch")}, state="paused", reason="Lunch")
    await presence.contact_changed(line, _contact("Removed", "sip:back@127.0.0.1;transport=ws"))
    await asyncio.sleep(0.4)
    await presence.contact_changed(line, _contact("Created", "sip:again@127.0.0.1;transport=ws"))
    assert link.named("QueuePause") == []
    await presence.close()


async def test_after_a_reconnect_a_queue_member_whose_browser_phone_is_gone_is_paused(services: Services) -> None:
    line, link = _line()
    presence = SoftphonePresence(services.db)
    await _people(services)
    line.tracker.agents.lines["PJSIP/1006"] = AgentLine("PJSIP/1006", {"support": (False, "")}, state="ready")
    link.contacts = [{"ObjectName": "1001;@x", "Uri": "sip:1001@127.0.0.1:5062", "Status": "NonQualified"}]
    await presence.resync(line)
    await asyncio.sleep(0.4)
    assert link.named("QueuePause") == [{"Interface": "PJSIP/1006", "Paused": "true", "Reason": PHONE_OFFLINE}]

    line.tracker.agents.lines["PJSIP/1006"] = AgentLine("PJSIP/1006", {"support": (True, PHONE_OFFLINE)}, state="paused", reason=PHONE_OFFLINE)
    link.contacts.append({"ObjectName": "1006;@y", "Aor": "1006", "Uri": "sip:z@127.0.0.1;transport=ws", "Status": "Reachable"})
    await presence.resync(line)  # registered again while the server was away
    assert link.named("QueuePause")[-1] == {"Interface": "PJSIP/1006", "Paused": "false"}
    await presence.close()


async def test_only_softphone_agents_get_the_browser_phone_and_desk_phone_pages_stay_as_they_were(site: WebSite) -> None:
    async with site.services.db.transaction() as session:
        await session.execute(update(User).where(User.login == "agent2").values(extension="1006", softphone=True))
    desk = await site.login("agent")
    page = await desk.http.get("/queue")
    html = await page.text()
    assert 'id="softphone"' not in html and "softphone.js" not in html
    assert "connect-src 'self';" in page.headers["Content-Security-Policy"]  # no PBX WebSocket configured
    assert await desk.api("POST", "/api/v1/softphone/session", json={}) == {"enabled": False}

    browser_agent = await site.login("agent2")
    html = await (await browser_agent.http.get("/queue")).text()
    assert 'id="softphone"' in html and '<script src="/static/softphone.js" defer>' in html
    # This site's PBX list has no softphone WebSocket URL: the page is told, nothing is written.
    await browser_agent.api("POST", "/api/v1/softphone/session", json={}, status=404)
    served = await browser_agent.http.get("/static/vendor/jssip.min.js")
    assert served.status == 200 and "JsSIP" in (await served.text())[:100_000]
    assert (await browser_agent.http.get("/static/vendor/jssip.LICENSE.txt")).status == 200


async def test_an_admin_turns_a_persons_browser_phone_on_and_off_from_the_shell(site: WebSite, settings: Settings, tmp_path: Path) -> None:
    cfg = tmp_path / "frontdesk.yaml"
    cfg.write_text(f"database_url: '{settings.database_url}'\n")

    async def softphone_of(login: str) -> bool:
        async with site.services.db.session() as session:
            return bool((await session.execute(select(User.softphone).where(User.login == login))).scalar_one())

    assert not await softphone_of("agent2")
    assert await asyncio.to_thread(main, ["-c", str(cfg), "user", "edit", "agent2", "--softphone", "on"]) == 0
    assert await softphone_of("agent2")
    me = await (await site.login("agent2")).api("GET", "/api/v1/me")
    assert me["user"]["softphone"] is True
    assert await asyncio.to_thread(main, ["-c", str(cfg), "user", "edit", "agent2", "--softphone", "off"]) == 0
    assert not await softphone_of("agent2")
