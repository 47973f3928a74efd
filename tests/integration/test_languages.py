"""The console speaks the person's language: their own choice, else the site's default."""

from __future__ import annotations

import pytest
from web_fixtures import WebSite

from config.settings import Settings, load_settings
from core.records import EntryKind
from routing import Contact


async def test_an_agent_switches_the_console_to_chinese_and_back(site: WebSite) -> None:
    agent = await site.login("agent")
    page = await agent.api("GET", "/queue")
    assert "My tickets" in page and 'lang="en"' in page
    await agent.api("POST", "/preferences/language", data={"language": "zh_CN", "next": "/queue"})
    page = await agent.api("GET", "/queue")
    assert 'lang="zh-CN"' in page and "我的工单" in page and "My tickets" not in page
    other = await site.login("agent2")
    assert "My tickets" in await other.api("GET", "/queue")  # one person's choice is theirs alone
    await agent.api("POST", "/preferences/language", data={"language": "", "next": "/queue"})
    assert "My tickets" in await agent.api("GET", "/queue")


async def test_an_unknown_language_is_refused(site: WebSite) -> None:
    agent = await site.login("agent")
    body = await agent.api("POST", "/preferences/language", data={"language": "xx_YY"}, status=400)
    assert "no such language" in body


async def test_the_login_page_follows_the_browser_language(site: WebSite) -> None:
    visitor = await site.anonymous()
    page = await visitor.api("GET", "/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "登录" in page


class TestSiteDefaultLanguage:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return load_settings(None, database_url=database_url, web={"default_language": "zh_CN"})

    async def test_people_without_a_choice_get_the_site_default(self, site: WebSite) -> None:
        agent = await site.login("agent")
        assert "我的工单" in await agent.api("GET", "/queue")


class TestSpanishSiteDefault:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return load_settings(None, database_url=database_url, web={"default_language": "es"})

    async def test_a_spanish_site_speaks_spanish_and_offers_every_language(self, site: WebSite) -> None:
        agent = await site.login("agent")
        page = await agent.api("GET", "/queue")
        assert 'lang="es"' in page and "Mis tickets" in page and "Cerrar sesión" in page
        assert all(f'<option value="{tag}"' in page for tag in ("en", "es", "zh_CN"))
        await agent.api("POST", "/preferences/language", data={"language": "zh_CN", "next": "/queue"})
        assert "我的工单" in await agent.api("GET", "/queue")


async def test_alerts_and_delivery_failures_on_the_timeline_read_in_the_agents_language(site: WebSite) -> None:
    async with site.services.db.session() as session:
        accepted = await site.services.desk.accept(session, Contact("email", None, subject="Broken kettle"), EntryKind.EMAIL_IN, {})
        ticket = accepted.ticket
        await site.services.desk.append(session, ticket, EntryKind.ALERT, {
            "event": "escalated", "message": "First response breached — level 2: sms to Sue", "target": "first_response",
            "level": 2, "breached": True, "notified": [{"channel": "sms", "to": "+8613900000000", "name": "Sue"}],
        })
        await site.services.desk.append(session, ticket, EntryKind.ALERT, {
            "event": "email-delivery-failed", "recipient": "gone@example.com", "subject": "Re: Broken kettle",
            "error": "550 5.1.1 no such user",
        })
        await site.services.desk.commit_and_publish(session)
    agent = await site.login("agent")
    page = await agent.api("GET", f"/tickets/{ticket.id}")
    assert "First response breached" in page and "Sue" in page
    assert "Email to gone@example.com could not be delivered: 550 5.1.1 no such user" in page
    await agent.api("POST", "/preferences/language", data={"language": "zh_CN", "next": "/queue"})
    page = await agent.api("GET", f"/tickets/{ticket.id}")
    assert "首次响应 已超时" in page
    assert "发送给 gone@example.com 的邮件无法投递：550 5.1.1 no such user" in page


@pytest.mark.parametrize(("language", "words", "english"), [
    ("es", ["Plantillas de respuesta", "Artículos de la base de conocimiento", "Probar con un correo", "Palabras clave: una por línea"],
     ["Reply templates", "Knowledge-base articles", "Try a mail", "Keywords: one per line", "Download all templates"]),
    ("zh_CN", ["回复模板", "知识库文章", "试用一封邮件", "关键词：每行一个"],
     ["Reply templates", "Knowledge-base articles", "Try a mail", "Keywords: one per line", "Download all templates"]),
])
async def test_the_knowledge_ops_page_is_translated(site: WebSite, language: str, words: list[str], english: list[str]) -> None:
    ops = await site.login("ops")
    await ops.api("POST", "/preferences/language", data={"language": language, "next": "/ops/knowledge"})
    page = await ops.api("GET", "/ops/knowledge")
    assert all(word in page for word in words)
    assert not [word for word in english if word in page]
