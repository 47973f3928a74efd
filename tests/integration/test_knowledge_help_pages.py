"""The public help pages show published articles, searchable, to anyone; never the others."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from agent_ui.app import create_app
from config.services import Services
from knowledge.transfer import import_samples


async def test_anyone_can_search_published_articles_and_never_sees_unpublished(services: Services) -> None:
    async with services.db.transaction() as session:
        await import_samples(session, services.renderer)
    async with TestClient(TestServer(create_app(services))) as client:
        index = await client.get("/help")
        page = await index.text()
        found = await (await client.get("/help", params={"q": "退款"})).text()
        api = await (await client.get("/api/v1/help/articles", params={"q": "refund"})).json()
        hostile = await (await client.get("/help", params={"q": "<script>alert(1)</script>"})).text()
        ids = {a["title"]: a["id"] for a in (await (await client.get("/api/v1/help/articles")).json())["articles"]}
        article = await client.get(f"/help/{ids['Resetting your password']}")
        article_text = await article.text()
        hidden = await client.get(f"/help/{max(ids.values()) + 1}")
    assert index.status == 200 and "How long does a refund take?" in page
    assert "Internal" not in page
    assert "退款需要多长时间？" in found and "Resetting your password" not in found
    assert [a["title"] for a in api["articles"]] == ["How long does a refund take?"]
    assert "<script>alert(1)</script>" not in hostile and "&lt;script&gt;" in hostile
    assert article.status == 200 and "Forgot password" in article_text
    assert hidden.status == 404  # the unpublished article: the public cannot tell it exists


async def test_the_help_centre_speaks_the_language_asked_for(services: Services) -> None:
    async with TestClient(TestServer(create_app(services))) as client:
        spanish = await (await client.get("/help", params={"lang": "es"})).text()
        chinese = await (await client.get("/help", params={"lang": "zh"})).text()
        browser = await (await client.get("/help", headers={"Accept-Language": "es-MX,es;q=0.9"})).text()
    assert '<html lang="es">' in spanish and "Centro de ayuda" in spanish and 'name="lang" value="es"' in spanish
    assert '<html lang="zh-CN">' in chinese and "帮助中心" in chinese
    assert "Centro de ayuda" in browser  # no ?lang=: the browser's language
    assert 'href="/help?lang=es"' in spanish and "español" in spanish


async def test_the_help_centre_takes_the_products_language_codes(services: Services) -> None:
    """``?lang=zh_CN`` (the code the rest of the product uses) works like ``?lang=zh``."""
    async with services.db.transaction() as session:
        await import_samples(session, services.renderer)
    async with TestClient(TestServer(create_app(services))) as client:
        regional = await (await client.get("/help", params={"lang": "zh_CN"})).text()
        short = await (await client.get("/help", params={"lang": "zh"})).text()
        hyphen = await (await client.get("/help", params={"lang": "zh-CN", "q": "退款"})).text()
    assert '<html lang="zh-CN">' in regional and "帮助中心" in regional
    assert "退款需要多长时间？" in regional and "退款需要多长时间？" in short and "退款需要多长时间？" in hyphen
    assert 'name="lang" value="zh_CN"' in regional and 'href="/help?lang=zh_CN"' in regional
    assert 'hreflang="zh-CN" aria-current="page"' in regional
