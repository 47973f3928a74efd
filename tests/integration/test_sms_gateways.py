"""SMS adapters against real HTTP servers on loopback: Twilio-style REST and a templated gateway."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from alerts.settings import SmsHttpSettings, SmsTwilioSettings
from alerts.sms.gateways import HttpGateway, TwilioGateway
from channels.outbox import PermanentFailure, TemporaryFailure


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[TestServer, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []
    answers = iter([201, 503, 400])

    async def messages(request: web.Request) -> web.Response:
        user, _, password = base64.b64decode(request.headers["Authorization"].split()[1]).decode().partition(":")
        if (user, password) != ("AC123", "tok"):
            return web.json_response({"message": "auth"}, status=401)
        form = await request.post()
        received.append({k: str(v) for k, v in form.items()})
        status = next(answers)
        return web.json_response({"sid": "SM1"} if status == 201 else {"message": "no"}, status=status)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/AC123/Messages.json", messages)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield server, received
    await server.close()


async def test_twilio_compatible_api(twilio: tuple[TestServer, list[dict[str, str]]]) -> None:
    server, received = twilio
    gateway = TwilioGateway(SmsTwilioSettings(
        account_sid="AC123", auth_token="tok", from_number="+15550001111", api_base=str(server.make_url("/"))
    ))  # type: ignore[arg-type]
    try:
        assert await gateway.send("+8613800138000", "您的工单 #1042 已超时", "k1") == "SM1"
        with pytest.raises(TemporaryFailure):
            await gateway.send("+8613800138000", "again", "k2")
        with pytest.raises(PermanentFailure):
            await gateway.send("+8613800138000", "bad number", "k3")
    finally:
        await gateway.close()
    assert received[0] == {"To": "+8613800138000", "From": "+15550001111", "Body": "您的工单 #1042 已超时"}


async def test_templated_http_gateway_with_a_success_rule() -> None:
    seen: list[tuple[str, str, bytes]] = []

    async def send(request: web.Request) -> web.Response:
        seen.append((request.query.get("to", ""), request.headers.get("X-Key", ""), await request.read()))
        return web.Response(text="OK: queued" if len(seen) == 1 else "ERROR: quota")

    app = web.Application()
    app.router.add_post("/send", send)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    settings = SmsHttpSettings(
        url=str(server.make_url("/send")) + "?to={{ to|urlencode }}",
        headers={"X-Key": "secret"},
        body="from={{ sender|urlencode }}&msg={{ text|urlencode }}",
        content_type="application/x-www-form-urlencoded",
        success_body=r"^OK",
    )  # type: ignore[call-arg]
    gateway = HttpGateway(settings, "Frontdesk")
    try:
        await gateway.send("+8613800138000", "SLA breach #1042", "k1")
        with pytest.raises(TemporaryFailure):
            await gateway.send("+8613800138000", "second", "k2")
    finally:
        await gateway.close()
        await server.close()
    assert seen[0] == ("+8613800138000", "secret", b"from=Frontdesk&msg=SLA%20breach%20%231042")
