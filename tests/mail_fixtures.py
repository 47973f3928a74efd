"""A real Dovecot (one per test session, a fresh IMAP user per test) and a real SMTP sink."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from channels.dovecot import ThrowawayDovecot, dovecot_path
from channels.plugin import EmailChannel
from channels.settings import MailboxSettings
from channels.sink import MailSink
from config.app import build_services
from config.services import Services
from config.settings import Settings, load_settings
from core.clock import Clock


def need_dovecot() -> None:
    """Skip without Dovecot, unless CI demands every service (as the root conftest's need_service)."""
    if dovecot_path() is not None:
        return
    if os.environ.get("FRONTDESK_REQUIRE_SERVICES"):
        pytest.fail("dovecot is required (FRONTDESK_REQUIRE_SERVICES is set) but absent")
    pytest.skip("dovecot is not available")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[ThrowawayDovecot]:
    need_dovecot()
    server = ThrowawayDovecot({"customer": "secret"}).start()
    yield server
    server.cleanup()


def add_user(server: ThrowawayDovecot, name: str) -> None:
    server.add_user(name, "secret")


@pytest.fixture
def support(dovecot: ThrowawayDovecot) -> MailboxSettings:
    """A fresh support mailbox (its own IMAP user) for this test."""
    user = f"support{uuid.uuid4().hex[:8]}"
    add_user(dovecot, user)
    return dovecot.mailbox(user, name="support", address=f"{user}@example.com", acknowledge=True)


@pytest.fixture
def customer_box(dovecot: ThrowawayDovecot) -> MailboxSettings:
    user = f"cust{uuid.uuid4().hex[:8]}"
    add_user(dovecot, user)
    return dovecot.mailbox(user, name="customer", address=f"{user}@example.net", sent_folder=None)


@pytest.fixture
async def sink(customer_box: MailboxSettings) -> AsyncIterator[MailSink]:
    server = await MailSink({customer_box.address: customer_box}).start()
    yield server
    await server.stop()


@pytest.fixture
def mail_settings(database_url: str, support: MailboxSettings, sink: MailSink) -> Settings:
    return load_settings(
        None,
        database_url=database_url,
        mailboxes=[support.model_dump()],
        smtp={"host": "127.0.0.1", "port": sink.port, "security": "plain", "from_address": support.address},
    )


@pytest.fixture
async def mail_services(mail_settings: Settings, clock: Clock | None) -> AsyncIterator[Services]:
    svc = build_services(mail_settings, clock)
    yield svc
    await svc.db.close()


@pytest.fixture
async def channel(mail_services: Services) -> AsyncIterator[EmailChannel]:
    ch = EmailChannel(mail_services)
    yield ch
    await ch.stop()


# Reading the real servers back, for tests in any folder (browser ones too).
async def fetch_all(box: MailboxSettings, folder: str | None = None) -> list[bytes]:
    from channels.imap import connect, parse_fetch

    client = await connect(box)
    try:
        await client.select(folder or box.folder)
        response = await client.uid("fetch", "1:*", "(UID BODY.PEEK[])")
        return [m.raw for m in parse_fetch(response.lines)]
    finally:
        await client.logout()


async def eventually(check, within: float = 10.0):  # type: ignore[no-untyped-def]
    """Wait for a real server to do something (never used to pass simulated time)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
