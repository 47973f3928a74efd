"""Behind a reverse proxy, rate limits count the real client, and a forged header counts nothing."""

from __future__ import annotations

import pytest
from web_fixtures import PASSWORD, WebSite

from config.settings import ConfigError, Settings, load_settings


def _settings(database_url: str, proxies: list[str]) -> Settings:
    return load_settings(
        None,
        database_url=database_url,
        web={
            "login_attempts_per_minute": 3,
            "secret_key": "x" * 40,
            "cookie_secure": False,
            "trusted_proxies": proxies,
        },
    )


async def _fail_three_times(site: WebSite, forwarded: str) -> None:
    anon = await site.anonymous()
    for _ in range(3):
        response = await anon.http.post(
            "/login",
            data={"login": "agent", "password": "guess"},
            headers={"X-Forwarded-For": forwarded},
            allow_redirects=False,
        )
        assert response.status == 401


async def _log_in(site: WebSite, forwarded: str) -> int:
    anon = await site.anonymous()
    response = await anon.http.post(
        "/login",
        data={"login": "agent", "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded},
        allow_redirects=False,
    )
    return response.status


class TestBehindATrustedProxy:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return _settings(database_url, ["127.0.0.1/32", "::1"])

    async def test_an_attacker_guessing_a_password_does_not_lock_its_owner_out(self, site: WebSite) -> None:
        await _fail_three_times(site, "203.0.113.5")
        assert await _log_in(site, "203.0.113.5") == 429
        assert await _log_in(site, "198.51.100.7") == 303

    async def test_an_address_the_client_wrote_itself_is_not_believed(self, site: WebSite) -> None:
        # The proxy appends what it saw; whatever the client put before it is ignored.
        await _fail_three_times(site, "198.51.100.7, 203.0.113.5")
        assert await _log_in(site, "10.9.9.9, 203.0.113.5") == 429


class TestWithoutATrustedProxy:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return _settings(database_url, [])

    async def test_a_forged_header_does_not_escape_the_limit(self, site: WebSite) -> None:
        await _fail_three_times(site, "203.0.113.5")
        assert await _log_in(site, "198.51.100.99") == 429


def test_a_bad_proxy_address_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ConfigError, match=r"web\.trusted_proxies: .*proxy\.example"):
        _settings("sqlite+aiosqlite:///unused.db", ["10.0.0.0/8", "proxy.example"])
