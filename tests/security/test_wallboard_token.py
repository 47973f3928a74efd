"""The wallboard token is a password in a URL: it never reaches a log line, and a short one
is refused at start-up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from config.access_log import RedactingAccessLogger, redact_url_secrets
from config.app import build_app
from config.services import Services
from config.settings import ConfigError, Settings, load_settings

TOKEN = "tv-in-the-hall-8c1f0d2e9a"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(None, database_url=database_url, web={"wallboard_token": TOKEN})


@pytest.fixture
async def served(services: Services) -> AsyncIterator[str]:
    """The app as ``frontdesk serve`` runs it (the same access-log class), on a loopback port."""
    runner = web.AppRunner(build_app(services.settings, services), access_log_class=RedactingAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def test_the_token_never_appears_in_the_access_log(served: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served}/wallboard?token={TOKEN}&lang=zh_CN") as answer:
            assert answer.status == 200
        # The page's assets carry it as the Referer.
        async with http.get(f"{served}/static/console.css", headers={"Referer": f"{served}/wallboard?token={TOKEN}"}):
            pass
        # A wrong (or guessed) token, and the login redirect that carries it percent-encoded.
        async with http.get(f"{served}/wallboard?lang=en&token={TOKEN[:-1]}X") as answer:
            assert answer.status == 200 and "/login" in str(answer.url)
        async with http.get(f"{served}/wallboard/ws?token={TOKEN}", allow_redirects=False):
            pass
    text = logged(caplog)
    assert "GET /wallboard?token=[redacted]&lang=zh_CN" in text
    assert TOKEN not in text and TOKEN[:-1] not in text and TOKEN[:12] not in text


@pytest.mark.parametrize("url", [
    "/wallboard?token=SECRET",
    "/wallboard?lang=en&token=SECRET&big=1",
    "/login?next=%2Fwallboard%3Ftoken%3DSECRET%26lang%3Den",
    "/x?csrf_token=SECRET",
    "/x?WALLBOARD_TOKEN=SECRET#frag",
])
def test_token_values_are_cut_from_any_url(url: str) -> None:
    redacted = redact_url_secrets(f'127.0.0.1 "GET {url} HTTP/1.1" 200 "{url}"')
    assert "SECRET" not in redacted and "[redacted]" in redacted


def test_a_guessable_token_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, web={"wallboard_token": "0123456789abcdefghi"})  # 19 characters
    assert "web.wallboard_token" in str(err.value) and "0123456789" not in str(err.value)
