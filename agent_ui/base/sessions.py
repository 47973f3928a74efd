"""Browser logins kept on the server: the cookie carries a random token plus its signature.

The table stores only the token's hash, so the cookie is the only key; logging out
deletes the row, so a copied cookie stops working at once. The signature (HMAC with
``core.signing_key``: ``web.secret_key`` or the key kept in the database) lets a forged cookie be refused without a database read.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, as_utc
from core.records import User, WebSession
from core.signing_key import SigningKey

COOKIE_NAME = "frontdesk_session"


class SessionStore:
    def __init__(self, key: SigningKey, clock: Clock, lifetime: timedelta, cookie_secure: bool) -> None:
        self._signing = key
        self._clock = clock
        self._lifetime = lifetime
        self._cookie_secure = cookie_secure

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def _token_of(self, cookie_value: str) -> str | None:
        token, _, signature = cookie_value.partition(".")
        if not token or not self._signing.verify(token, signature):
            return None
        return token

    async def open(self, session: AsyncSession, user: User) -> str:
        """Start a login for ``user``; returns the cookie value. Expired logins are swept here."""
        now = self._clock.now()
        await session.execute(delete(WebSession).where(WebSession.expires_at < now))
        token = secrets.token_urlsafe(32)
        session.add(
            WebSession(
                id=self._key(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + self._lifetime,
            )
        )
        await session.flush()
        return f"{token}.{self._signing.sign(token)}"

    async def resolve(self, session: AsyncSession, cookie_value: str) -> tuple[User, WebSession] | None:
        token = self._token_of(cookie_value)
        if token is None:
            return None
        row = await session.get(WebSession, self._key(token))
        if row is None or as_utc(row.expires_at) <= self._clock.now():
            return None
        user = await session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return user, row

    async def close(self, session: AsyncSession, cookie_value: str) -> None:
        token = self._token_of(cookie_value)
        if token is not None:
            await session.execute(delete(WebSession).where(WebSession.id == self._key(token)))

    def set_cookie(self, response: web.StreamResponse, cookie_value: str) -> None:
        response.set_cookie(
            COOKIE_NAME,
            cookie_value,
            max_age=int(self._lifetime.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=self._cookie_secure,
            path="/",
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE_NAME, path="/")
