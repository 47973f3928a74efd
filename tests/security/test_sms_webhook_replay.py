"""The inbound SMS webhook: a signed call captured on the wire cannot be sent again, nor
later, and the memory of calls seen stays bounded."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from web_fixtures import StaffClient, WebSite

from alerts.sms.inbound import ReplayGuard, signed_headers, twilio_signature
from config.settings import Settings, load_settings
from core.clock import ManualClock

SECRET = "webhook-shared-secret-0123"
TWILIO_TOKEN = "twilio-auth-token-0123"
PATH = "/api/v1/sms/inbound"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url,
                         sla={"sms": {"inbound_secret": SECRET, "twilio": {"auth_token": TWILIO_TOKEN}}})


def ack_from(number: str) -> bytes:
    return json.dumps({"from": number, "text": "ACK"}).encode()


async def post(client: StaffClient, body: bytes, headers: dict[str, str], status: int) -> dict[str, str]:
    answer: dict[str, str] = await client.api("POST", PATH, data=body, headers=headers, status=status)
    return answer


async def test_a_captured_webhook_sent_again_is_refused(site: WebSite, clock: ManualClock) -> None:
    gateway = await site.anonymous()
    body = ack_from("+8613911112222")
    headers = {**JSON, **signed_headers(SECRET, body, clock.now())}
    # Signed and fresh: it is read (the number is no staff phone, so nothing is acknowledged).
    assert (await post(gateway, body, headers, 403))["error"] == "forbidden"
    again = await post(gateway, body, headers, 409)
    assert "already received" in again["message"]
    clock.advance(timedelta(minutes=2))
    await post(gateway, body, headers, 409)
    # The same body with a new nonce is a new message.
    await post(gateway, body, {**JSON, **signed_headers(SECRET, body, clock.now())}, 403)


async def test_a_stale_or_future_webhook_is_refused(site: WebSite, clock: ManualClock) -> None:
    gateway = await site.anonymous()
    body = ack_from("+8613911112222")
    captured = {**JSON, **signed_headers(SECRET, body, clock.now())}
    clock.advance(timedelta(minutes=5, seconds=30))
    stale = await post(gateway, body, captured, 401)
    assert "too old" in stale["message"]
    ahead = {**JSON, **signed_headers(SECRET, body, clock.now() + timedelta(minutes=6))}
    await post(gateway, body, ahead, 401)
    slightly_off = {**JSON, **signed_headers(SECRET, body, clock.now() - timedelta(minutes=4))}
    await post(gateway, body, slightly_off, 403)


async def test_the_timestamp_and_nonce_are_covered_by_the_signature(site: WebSite, clock: ManualClock) -> None:
    gateway = await site.anonymous()
    body = ack_from("+8613911112222")
    old = signed_headers(SECRET, body, clock.now())
    clock.advance(timedelta(hours=1))
    # Refreshing the timestamp (or the nonce) of a captured call breaks its signature.
    retimed = {**JSON, **old, "X-Frontdesk-Timestamp": str(int(clock.now().timestamp()))}
    assert "not signed" in (await post(gateway, body, retimed, 401))["message"]
    renonced = {**JSON, **old, "X-Frontdesk-Nonce": "another-nonce-123"}
    await post(gateway, body, renonced, 401)
    unsigned = {**JSON, "X-Frontdesk-Signature": old["X-Frontdesk-Signature"]}  # no timestamp, no nonce
    await post(gateway, body, unsigned, 401)


async def test_a_twilio_message_is_accepted_once(site: WebSite) -> None:
    gateway = await site.anonymous()
    url = f"{site.url}{PATH}"
    params = {"From": "+8613911112222", "Body": "ACK", "MessageSid": "SM0123456789abcdef"}
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params)}
    body = urlencode(params).encode()
    await post(gateway, body, headers, 403)
    await post(gateway, body, headers, 409)
    no_id = {k: v for k, v in params.items() if k != "MessageSid"}
    headers["X-Twilio-Signature"] = twilio_signature(TWILIO_TOKEN, url, no_id)
    await post(gateway, urlencode(no_id).encode(), headers, 400)


def test_the_replay_memory_is_bounded_and_forgets_what_has_expired() -> None:
    clock = ManualClock()
    guard = ReplayGuard(max_entries=100)
    keep = clock.now() + timedelta(minutes=10)
    for n in range(1_000):
        assert guard.first_time(f"k{n}", keep, clock.now())
    assert len(guard) == 100
    assert not guard.first_time("k999", keep, clock.now())
    clock.advance(timedelta(minutes=11))
    assert guard.first_time("k999", clock.now() + timedelta(minutes=10), clock.now())
    assert len(guard) == 1
