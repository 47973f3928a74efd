"""Ops manage webhooks over REST: bad targets are refused with the field named, the secret is
shown once, a test event reaches the receiver (the server's own worker sends it) and shows in
the delivery log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from web_fixtures import WebSite
from webhook_receiver import Receiver, serve_receiver

from config.settings import Settings, load_settings
from core.records import User
from integrations import SIGNATURE_HEADER, verify


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url,
                         webhooks={"allow_private_targets": True, "retry_base_s": 0.05, "timeout_s": 5})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve_receiver() as got:
        yield got


async def test_ops_subscribe_test_and_read_the_log(site: WebSite, receiver: Receiver) -> None:
    ops = await site.login("ops")
    refused = {
        "ftp://crm.example.com/hook": "url",
        "https://user:pw@crm.example.com/hook": "url",
        "javascript:alert(1)": "url",
    }
    for url, field in refused.items():
        body = await ops.api("POST", "/api/v1/webhooks", json={"url": url, "events": ["ticket.created"]}, status=400)
        assert body["details"]["field"] == field, url
    body = await ops.api("POST", "/api/v1/webhooks", json={"url": receiver.url, "events": ["ticket.exploded"]},
                         status=400)
    assert body["details"]["field"] == "events"
    assert (await ops.api("GET", "/api/v1/webhooks"))["webhooks"] == []  # nothing half-saved

    made = await ops.api("POST", "/api/v1/webhooks", status=201,
                         json={"name": "CRM", "url": receiver.url, "events": ["ticket.created", "call.ended"]})
    secret = made["secret"]
    assert secret.startswith("whsec_")
    listed = await ops.api("GET", "/api/v1/webhooks")
    assert secret not in str(listed) and listed["webhooks"][0]["events"] == ["ticket.created", "call.ended"]

    tested = await ops.api("POST", f"/api/v1/webhooks/{made['id']}/test", status=202)
    for _ in range(200):
        log = (await ops.api("GET", f"/api/v1/webhooks/{made['id']}/deliveries"))["deliveries"]
        if log:
            break
        await asyncio.sleep(0.02)
    assert [(d["event_id"], d["status_code"], d["outcome"]) for d in log] == [(tested["event_id"], 200, "delivered")]
    headers, raw = receiver.received[0]
    assert verify(secret, headers[SIGNATURE_HEADER], raw, site.services.clock.now().timestamp())

    async with site.services.db.transaction() as session:  # the page in the person's language
        person = await session.get(User, site.users["ops"].id)
        assert person is not None
        person.language = "zh_CN"
    page = await ops.api("GET", f"/admin/webhooks/{made['id']}")
    assert "投递日志" in page and "发送测试事件" in page and "已送达" in page
    assert "Delivery log" not in page and "Send a test event" not in page

    patched = await ops.api("PATCH", f"/api/v1/webhooks/{made['id']}", json={"enabled": False})
    assert patched["enabled"] is False
    await ops.api("POST", f"/api/v1/webhooks/{made['id']}/test", status=409)
    await ops.api("PATCH", f"/api/v1/webhooks/{made['id']}", json={"url": "gopher://x"}, status=400)
    await ops.api("DELETE", f"/api/v1/webhooks/{made['id']}")
    await ops.api("GET", f"/api/v1/webhooks/{made['id']}", status=404)
