"""Errors answer in the asker's language: a person's chosen language, or the browser's before
login; programs keep the error id and details, and get English unless they ask otherwise."""

from __future__ import annotations

from web_fixtures import WebSite


async def test_errors_speak_the_persons_language(site: WebSite) -> None:
    agent = await site.login("agent")
    english = await agent.api("GET", "/api/v1/tickets/999999", status=404)
    await agent.api("POST", "/preferences/language", status=None,
                    data={"csrf_token": agent.csrf_token or "", "language": "es", "next": "/queue"})
    spanish = await agent.api("GET", "/api/v1/tickets/999999", status=404)
    page = await agent.api("GET", "/tickets/999999", status=404)
    assert english["message"] == "no such ticket"
    assert spanish == {**english, "message": "no existe ese ticket"}
    assert "No se pudo completar" in page and "no existe ese ticket" in page

    anonymous = await site.anonymous()
    chinese = await anonymous.api("GET", "/api/v1/tickets", status=401, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    script = await anonymous.api("GET", "/api/v1/tickets", status=401)
    assert script["error"] == "not-authenticated" and script["message"] == "log in first, or send an API token"
    assert chinese == {**script, "message": "请先登录，或提供 API 令牌"}
