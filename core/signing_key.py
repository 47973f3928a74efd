"""The key that signs session cookies, customers' rating links and help-centre form tokens.

``web.secret_key`` when it is set. When it is not, a key made at the first start and kept in
the database (``server_keys``), as Zammad keeps its application secret: a key made afresh by
each process logged everyone out on every restart, broke every rating link already mailed
to customers, and differed between the instances of a cluster.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.records import ServerKey

log = logging.getLogger(__name__)

WEB_KEY = "web"


class SigningKeyNotLoaded(RuntimeError):
    """Something tried to sign before the server's start-up read the key."""


class SigningKey:
    """Made when the app is built, read from the database at start-up (``load``) unless configured."""

    def __init__(self, configured: str) -> None:
        self._value: bytes | None = configured.encode() if configured else None

    @property
    def value(self) -> bytes:
        if self._value is None:
            raise SigningKeyNotLoaded("the signing key is read at start-up; nothing may sign before")
        return self._value

    def sign(self, message: str) -> str:
        """HMAC-SHA256 of ``message``, as 32 hex digits (what cookies, links and form tokens carry)."""
        return hmac.new(self.value, message.encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(signature, self.sign(message))

    async def load(self, db: Database) -> None:
        if self._value is None:
            self._value = (await stored_key(db, WEB_KEY)).encode()
            log.info("web.secret_key is not set: signing with the key kept in the database (server_keys)")


async def stored_key(db: Database, name: str) -> str:
    """The key called ``name``, made now if there is none; instances starting together agree
    (the primary key lets one insert win, the others read the winner's)."""
    async with db.session() as session:
        found = await session.get(ServerKey, name)
        if found is not None:
            return found.value
    try:
        async with db.transaction() as session:
            session.add(ServerKey(name=name, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another instance made it first
    async with db.session() as session:
        made = await session.get(ServerKey, name)
        assert made is not None
        return made.value
