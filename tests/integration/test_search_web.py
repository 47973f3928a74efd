"""Search from the web: the top bar's box on every page, the results page (marked words, no raw
codes), and ``GET /api/v1/search`` with cursors; in English and Chinese."""

from __future__ import annotations

from web_fixtures import WebSite


async def test_the_top_bar_box_finds_tickets_and_customers_with_the_words_marked(site: WebSite) -> None:
    agent = await site.login("agent")
    await agent.api("POST", "/api/v1/customers", json={"name": "Zhang Wei", "emails": ["zhang.wei@example.com"],
                                                         "phones": ["+8613800138000"]}, status=201)
    created = await agent.api("POST", "/api/v1/tickets", json={"subject": "打印机坏了", "body": "Printer jammed on floor 3"},
                              status=201)
    queue = await agent.http.get("/queue")
    assert 'action="/search"' in await queue.text()

    page = await agent.http.get("/search", params={"q": "printer jammed"})
    html = await page.text()
    assert page.status == 200
    assert f'href="/tickets/{created["ticket"]["id"]}"' in html
    assert "<mark>Printer</mark> <mark>jammed</mark>" in html

    zh = await agent.http.get("/search", params={"q": "打印"})
    assert f'/tickets/{created["ticket"]["id"]}' in await zh.text()
    people = await agent.http.get("/search", params={"q": "+86 138 0013 8000"})
    text = await people.text()
    assert 'customer_id=' in text and "Zhang Wei" in text  # the customer, found by the number
    nothing = await agent.http.get("/search", params={"q": "no such words anywhere"})
    assert "No tickets match." in await nothing.text()


async def test_the_api_pages_with_cursors_and_refuses_bad_input_by_name(site: WebSite) -> None:
    agent = await site.login("agent")
    for n in range(3):
        await agent.api("POST", "/api/v1/tickets", json={"subject": f"Invoice question {n}"}, status=201)
    first = await agent.api("GET", "/api/v1/search?q=invoice&limit=2")
    assert len(first["results"]) == 2 and first["next_cursor"]
    second = await agent.api("GET", f"/api/v1/search?q=invoice&limit=2&cursor={first['next_cursor']}")
    assert len(second["results"]) == 1 and second["next_cursor"] is None
    subjects = ["".join(s["text"] for s in r["title"]) for r in first["results"] + second["results"]]
    assert sorted(subjects) == [f"Invoice question {n}" for n in range(3)]
    bad = await agent.api("GET", "/api/v1/search?q=invoice&cursor=%%%", status=400)
    assert bad["details"]["field"] == "cursor"
    assert (await agent.api("GET", "/api/v1/search?q=x&type=nope", status=400))["details"]["field"] == "type"
    assert (await agent.api("GET", "/api/v1/search?q=x&from=yesterday", status=400))["details"]["field"] == "from"
    customers = await agent.api("GET", "/api/v1/search?q=invoice&type=customers")
    assert customers["results"] == []


async def test_the_results_page_speaks_chinese(site: WebSite) -> None:
    agent = await site.login("agent")
    await agent.http.post("/preferences/language", data={"language": "zh_CN", "csrf_token": agent.csrf_token,
                                                          "next": "/queue"})
    page = await (await agent.http.get("/search", params={"q": "没有这个词"})).text()
    assert "搜索" in page and "No tickets match." not in page
