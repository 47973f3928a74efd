from web_fixtures import WebSite


async def test_smoke(site: WebSite) -> None:
    agent = await site.login("agent")
    body = await agent.api("GET", "/api/v1/me")
    assert body["user"]["login"] == "agent"
    page = await agent.api("GET", "/queue")
    assert "Queue" in page
