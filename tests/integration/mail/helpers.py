"""Helpers of the email integration tests: put mail into a real mailbox, read it back, wait for a server."""

from __future__ import annotations

from mail_fixtures import eventually, fetch_all

from channels.imap import connect
from channels.settings import MailboxSettings
from config.services import Services

__all__ = ["append", "eventually", "fetch_all", "mailbox_reading", "make_agent"]


async def append(box: MailboxSettings, *messages: bytes, folder: str | None = None, flags: str | None = None) -> None:
    client = await connect(box)
    try:
        for raw in messages:
            response = await client.append(raw, mailbox=folder or box.folder, flags=flags)
            assert response.result == "OK", response
    finally:
        await client.logout()


async def make_agent(services: Services, login: str = "alice", roles: tuple[str, ...] = ("agent",)):  # type: ignore[no-untyped-def]
    from core.auth import Actor
    from core.users import add_user

    async with services.db.transaction() as session:
        user = await add_user(session, login, "correct horse battery", login.title(), list(roles))
    return Actor.of(user)


async def mailbox_reading(services: Services, name: str = "support", detail: str = "") -> None:
    """Wait until the mailbox reports itself healthy: it does so once a batch's flags are set,
    just after the batch's commit, so a test that saw the tickets may still see "starting"."""

    async def reading() -> bool:
        health = services.health.get(f"mailbox:{name}")
        return health is not None and health.ok and health.detail.startswith(detail)

    await eventually(reading)
