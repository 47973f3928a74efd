"""Without ``web.secret_key``, the signing key is made once and kept in the database: a login and
a rating link mailed to a customer outlive a restart, and instances on one database agree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from web_fixtures import WebSite

from channels.rating_links import RatingLinks
from config.app import build_app, build_services
from config.services import Services
from core.errors import NotFound
from core.records import ServerKey
from core.signing_key import WEB_KEY, SigningKey, SigningKeyNotLoaded, stored_key


async def test_a_login_outlives_a_restart_of_the_server(site: WebSite) -> None:
    assert not site.services.settings.web.secret_key.get_secret_value(), "the key under test is the stored one"
    alice = await site.login("agent")
    cookie = next(c.value for c in alice.http.session.cookie_jar if c.key == "frontdesk_session")
    restarted = build_services(site.services.settings)  # another process on the same database
    server = TestServer(build_app(restarted.settings, restarted), host="127.0.0.1", port=0)
    async with TestClient(server) as http:
        response = await http.get("/api/v1/me", headers={"Cookie": f"frontdesk_session={cookie}"})
        assert response.status == 200, await response.text()
        assert (await response.json())["user"]["login"] == "agent"


async def test_a_rating_link_mailed_before_a_restart_still_works(services: Services) -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    before, after = SigningKey(""), SigningKey("")
    await before.load(services.db)
    await after.load(services.db)  # a later start reads the same row
    path = RatingLinks(before).path(42, "good", now)
    expires, signature = path.split("?expires=")[1].split("&sig=")
    RatingLinks(after).check(42, "good", expires, signature, now)  # accepted
    with pytest.raises(NotFound):
        RatingLinks(after).check(43, "good", expires, signature, now)  # not a link for another ticket
    with pytest.raises(NotFound):
        RatingLinks(SigningKey("another site's key")).check(42, "good", expires, signature, now)


async def test_instances_starting_together_agree_on_one_key(services: Services) -> None:
    keys = await asyncio.gather(*(stored_key(services.db, WEB_KEY) for _ in range(5)))
    assert len(set(keys)) == 1 and len(keys[0]) >= 48
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ServerKey)) == 1


async def test_a_configured_key_signs_and_nothing_is_stored(services: Services) -> None:
    key = SigningKey("configured-key-of-32-characters!")
    await key.load(services.db)
    assert key.value == b"configured-key-of-32-characters!"
    async with services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ServerKey)) == 0
    with pytest.raises(SigningKeyNotLoaded):
        _ = SigningKey("").value  # nothing signs before start-up read the key
