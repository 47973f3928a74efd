"""Changing a password: a person changes their own (knowing the current one), or an admin
hands them a one-time reset link.

Why a link and not a temporary password: the admin never learns (or types, or sends) a
password that works; the link works once, for a day, and only its hash is stored, so a
leaked table or log grants nothing. Using it ends every web login of that person, as a
changed password should. API tokens are separate credentials and stay (revoke them on the
tokens page when they leaked too).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import as_utc
from core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from core.passwords import hash_password, verify_password
from core.records import PasswordReset, Role, User, WebSession
from core.users import user_by_login

RESET_LINK_HOURS = 24
PASSWORD_MIN = 8
PASSWORD_MAX = 200  # argon2 hashes any length; a cap keeps a request from costing much


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_password(password: str, field: str = "password") -> None:
    """The rule every new password meets, whoever sets it."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput("a password has 8 to 200 characters", {"field": field})


async def _set_password(session: AsyncSession, user: User, password: str, field: str = "password") -> None:
    check_new_password(password, field)
    # argon2 is deliberately slow: hash in a thread so live connections never wait on it.
    user.password_hash = await asyncio.to_thread(hash_password, password)


async def issue_reset_link(session: AsyncSession, actor: Actor, login: str, now: datetime) -> tuple[str, PasswordReset]:
    """An admin makes a one-time link for ``login`` (shown once); earlier unused links stop working."""
    actor.require(Role.ADMIN)
    user = await user_by_login(session, login)
    if not user.active:
        raise Conflict("this person is disabled: enable them first", {"login": login})
    await session.execute(update(PasswordReset)
                          .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
                          .values(used_at=now))
    token = secrets.token_urlsafe(32)
    row = PasswordReset(user_id=user.id, token_hash=_digest(token), created_by=actor.user_id, created_at=now,
                        expires_at=now + timedelta(hours=RESET_LINK_HOURS))
    session.add(row)
    await session.flush()
    record_change(session, actor, "user.password_link", "user", user.id, None,
                  {"expires_at": as_utc(row.expires_at).isoformat()})
    return token, row


async def _open_link(session: AsyncSession, token: str, now: datetime) -> tuple[PasswordReset, User]:
    row = (await session.execute(select(PasswordReset).where(PasswordReset.token_hash == _digest(token)))).scalar()
    user = await session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or row.used_at is not None or as_utc(row.expires_at) <= now or not user.active:
        raise NotFound("this password link is unknown, used or expired: ask an admin for a new one")
    return row, user


async def person_of_link(session: AsyncSession, token: str, now: datetime) -> User:
    """Who a link is for (the page greets them), without using it up."""
    _row, user = await _open_link(session, token, now)
    return user


async def reset_with_link(session: AsyncSession, token: str, password: str, now: datetime) -> User:
    """Set a new password from a link: the link is spent and every web login of the person ends."""
    row, user = await _open_link(session, token, now)
    await _set_password(session, user, password)
    row.used_at = now
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    record_change(session, Actor.of(user), "user.password_reset", "user", user.id, None, {"by_link": row.id})
    await session.flush()
    return user


async def change_own_password(
    session: AsyncSession, actor: Actor, current: str, new: str, keep_csrf_token: str | None
) -> User:
    """A person changes their password, proving the current one. Their other web logins end;
    the one they made the change from (known by its CSRF token, unique per login) stays."""
    user = await session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise NotAuthenticated("only a signed-in person has a password")
    if not await asyncio.to_thread(verify_password, user.password_hash, current):
        raise InvalidInput("the current password is wrong", {"field": "current"})
    await _set_password(session, user, new, "new")
    others = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_csrf_token:
        others = others.where(WebSession.csrf_token != keep_csrf_token)
    await session.execute(others)
    record_change(session, actor, "user.password_change", "user", user.id)
    await session.flush()
    return user
