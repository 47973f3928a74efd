"""People who log in: agents, supervisors, ops, admins."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.errors import Conflict, InvalidInput, NotAuthenticated
from core.passwords import hash_password, verify_password
from core.records import ApiToken, Role, User


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "roles": list(user.roles or []),
        "extension": user.extension,
        "pbx_interface": user.pbx_interface,
        "skills": list(user.skills or []),
        "language": user.language,
        "active": user.active,
    }


async def add_user(
    session: AsyncSession,
    login: str,
    password: str,
    display_name: str,
    roles: list[str],
    extension: str | None = None,
    pbx_interface: str | None = None,
    **extra: Any,
) -> User:
    login = login.strip()
    if not login or len(login) > 80:
        raise InvalidInput("login must be 1 to 80 characters")
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")
    unknown = [r for r in roles if r not in {x.value for x in Role}]
    if unknown or not roles:
        raise InvalidInput("roles must be among agent, supervisor, ops, admin", {"roles": roles})
    if (await session.execute(select(User).where(User.login == login))).scalar():
        raise Conflict("a user with this login exists", {"login": login})
    if extension and not pbx_interface:
        pbx_interface = f"PJSIP/{extension}"
    user = User(
        login=login,
        password_hash=hash_password(password),
        display_name=display_name or login,
        roles=roles,
        extension=extension,
        pbx_interface=pbx_interface,
        **extra,
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, login: str, password: str) -> User | None:
    user = (await session.execute(select(User).where(User.login == login))).scalar()
    # argon2 is deliberately slow: verify in a thread so live connections never wait on a login.
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_api_token(session: AsyncSession, user: User, name: str) -> str:
    """Return a new token; only its hash is stored."""
    token = "fd_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_digest(token)))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    stmt = select(User).join(ApiToken).where(ApiToken.token_hash == _token_digest(token))
    user = (await session.execute(stmt)).scalar()
    return user if user and user.active else None


async def list_users(session: AsyncSession, actor: Actor, include_inactive: bool = False) -> list[User]:
    """Everyone on the team (agents see it to hand over work; supervisors to assign)."""
    actor.require(Role.AGENT, Role.OPS)
    stmt = select(User).order_by(User.display_name, User.id)
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return list((await session.execute(stmt)).scalars())


async def create_user(
    session: AsyncSession,
    actor: Actor,
    login: str,
    password: str,
    display_name: str,
    roles: list[str],
    **extra: Any,
) -> User:
    """An admin adds a person; audited without the password."""
    actor.require(Role.ADMIN)
    user = await add_user(session, login, password, display_name, roles, **extra)
    record_change(session, actor, "user.create", "user", user.id, None, user_dict(user))
    return user


async def issue_own_token(session: AsyncSession, actor: Actor, name: str) -> str:
    """A person creates an API token acting as themself."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters")
    user = await session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise NotAuthenticated("only a signed-in person can create a token")
    token = await issue_api_token(session, user, name)
    record_change(session, actor, "token.create", "user", user.id, None, {"token_name": name})
    return token


async def set_own_language(session: AsyncSession, actor: Actor, language: str | None) -> User:
    """A person picks the console's language for themself (None: the site default)."""
    user = await session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise NotAuthenticated("only a signed-in person has a language")
    if language is not None and (not language or len(language) > 16):
        raise InvalidInput("a language is a tag such as en or zh_CN", {"language": language})
    before = user.language
    user.language = language
    record_change(session, actor, "user.language", "user", user.id, {"language": before}, {"language": language})
    return user
