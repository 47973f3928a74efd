"""People who log in: agents, supervisors, ops, admins."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import as_utc, utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from core.events import DomainEvent
from core.passwords import hash_password, verify_password
from core.records import ApiToken, Role, User, WebSession


@dataclasses.dataclass(frozen=True)
class AccessEnded(DomainEvent):
    """A person's logins were ended (disabled, password reset): whoever holds live connections
    of theirs (the web's live hub) closes them at once instead of waiting for a reconnect."""

    name: ClassVar[str] = "user.access_ended"
    user_id: int


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "roles": list(user.roles or []),
        "extension": user.extension,
        "pbx_interface": user.pbx_interface,
        "softphone": user.softphone,
        "skills": list(user.skills or []),
        "language": user.language,
        "working_hours": user.working_hours,
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
        raise InvalidInput("login must be 1 to 80 characters", {"field": "login"})
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", {"field": "password"})
    unknown = [r for r in roles if r not in {x.value for x in Role}]
    if unknown or not roles:
        raise InvalidInput("roles must be among agent, supervisor, ops, admin", {"field": "roles", "roles": roles})
    if (await session.execute(select(User).where(User.login == login))).scalar():
        raise Conflict("a user with this login exists", {"field": "login", "login": login})
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


TOKEN_DAYS_DEFAULT = 90
TOKEN_DAYS_MAX = 366


def token_dict(token: ApiToken, owner: User | None = None) -> dict[str, Any]:
    """What lists show: never the token, only its first characters."""
    body: dict[str, Any] = {
        "id": token.id,
        "name": token.name,
        "hint": token.hint,
        "created_at": as_utc(token.created_at).isoformat(),
        "expires_at": as_utc(token.expires_at).isoformat(),
        "revoked_at": as_utc(token.revoked_at).isoformat() if token.revoked_at else None,
        "user_id": token.user_id,
    }
    if owner is not None:
        body["login"] = owner.login
    return body


def token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if as_utc(token.expires_at) <= now else "active"


def _token_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidInput("a token needs a name of 1 to 100 printable characters", {"field": "name"})
    return name


def _token_days(days: object) -> int:
    if days is None:
        return TOKEN_DAYS_DEFAULT
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TOKEN_DAYS_MAX:
        raise InvalidInput(f"days must be a whole number from 1 to {TOKEN_DAYS_MAX}", {"field": "days"})
    return days


async def issue_api_token(session: AsyncSession, user: User, name: str) -> str:
    """A token for ``user`` with the default lifetime (tests, scripts)."""
    token, _row = await new_api_token(session, user, name)
    return token


async def new_api_token(
    session: AsyncSession, user: User, name: str, now: datetime | None = None, days: object = None
) -> tuple[str, ApiToken]:
    """Return a new token (shown once) and its row; only the token's hash is stored."""
    now = now or utcnow()
    token = "fd_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=_token_name(name),
        token_hash=_token_digest(token),
        created_at=now,
        expires_at=now + timedelta(days=_token_days(days)),
        hint=token[:7],
    )
    session.add(row)
    await session.flush()
    return token, row


async def user_for_token(session: AsyncSession, token: str, now: datetime | None = None) -> User | None:
    """The active person behind an unexpired, unrevoked token; None otherwise."""
    now = now or utcnow()
    stmt = (
        select(User)
        .join(ApiToken)
        .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    )
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
    """An admin adds a person; audited without the password. The other fields (skills,
    extension, language, working hours ...) are checked as ``edit_user`` checks them."""
    actor.require(Role.ADMIN)
    checked = _checked_changes({k: v for k, v in extra.items() if v is not None})
    user = await add_user(session, login, password, display_name, roles, **checked)
    record_change(session, actor, "user.create", "user", user.id, None, user_dict(user))
    return user


async def issue_own_token(
    session: AsyncSession, actor: Actor, name: str, now: datetime, days: object = None
) -> tuple[str, ApiToken]:
    """A person creates an API token acting as themself."""
    user = await session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise NotAuthenticated("only a signed-in person can create a token")
    token, row = await new_api_token(session, user, name, now, days)
    record_change(session, actor, "token.create", "user", user.id, None, {"token_name": row.name, "token_id": row.id})
    return token, row


async def issue_token_for(
    session: AsyncSession, actor: Actor, login: str, name: str, now: datetime, days: object = None
) -> tuple[str, ApiToken]:
    """The server's operator (``frontdesk token add``) makes a token for a person."""
    actor.require(Role.ADMIN)
    user = (await session.execute(select(User).where(User.login == login))).scalar()
    if user is None or not user.active:
        raise NotFound("no active user with this login", {"login": login})
    token, row = await new_api_token(session, user, name, now, days)
    record_change(session, actor, "token.create", "user", user.id, None, {"token_name": row.name, "token_id": row.id})
    return token, row


def may_manage_all_tokens(actor: Actor) -> bool:
    """Ops (and admins) see and revoke everyone's tokens: they answer for what scripts do."""
    return actor.has(Role.OPS) or actor.has(Role.ADMIN)


async def list_tokens(
    session: AsyncSession, actor: Actor, everyone: bool = False, login: str | None = None
) -> list[tuple[ApiToken, User]]:
    """A person's own tokens; ops and admins may list everyone's (or one login's)."""
    stmt = select(ApiToken, User).join(User).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if everyone or login:
        if not may_manage_all_tokens(actor):
            raise Forbidden("only ops see other people's tokens")
        if login:
            stmt = stmt.where(User.login == login)
    else:
        if actor.user_id is None:
            raise NotAuthenticated("only a signed-in person has tokens")
        stmt = stmt.where(ApiToken.user_id == actor.user_id)
    return [(token, user) for token, user in (await session.execute(stmt)).all()]


async def revoke_token(session: AsyncSession, actor: Actor, token_id: int, now: datetime) -> ApiToken:
    """Stop a token at once: its owner, or ops/admin for anyone's. Revoking twice is harmless."""
    token = await session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.user_id and not may_manage_all_tokens(actor)):
        raise NotFound("no such token", {"token_id": token_id})
    if token.revoked_at is None:
        token.revoked_at = now
        record_change(session, actor, "token.revoke", "user", token.user_id, None,
                      {"token_name": token.name, "token_id": token.id})
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


SKILL_PATTERN = re.compile(r"^[\w.\-]{1,40}(:[1-9])?$")
INTERFACE_PATTERN = re.compile(r"^[A-Za-z0-9]{2,16}/[\w.@\-]{1,60}$")
EXTENSION_PATTERN = re.compile(r"^[0-9*#+]{1,20}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
MOBILE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
_SPAN = re.compile(rf"^{_DAY}(-{_DAY})? ([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$|^{_DAY}(-{_DAY})? 24:00$")
EDITABLE = ("display_name", "roles", "skills", "extension", "pbx_interface", "language", "email", "mobile",
            "working_hours", "softphone")
ROLE_NAMES = frozenset(r.value for r in Role)


async def user_by_login(session: AsyncSession, login: str) -> User:
    user = (await session.execute(select(User).where(User.login == login.strip()))).scalar()
    if user is None:
        raise NotFound("no such user", {"login": login})
    return user


def _optional(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    """A field that may be cleared (None) or must match ``pattern``."""
    return lambda value: value is None or (isinstance(value, str) and bool(pattern.match(value)))


def _working_hours(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or len(value) > 200:
        return False
    return all(_SPAN.match(span.strip()) for span in value.lower().split(","))


def _normalized(field: str, value: Any) -> Any:
    """The value as stored: trimmed text, lists without repeats, hours in lower case."""
    if field == "display_name":
        return value.strip()
    if field in ("roles", "skills"):
        return list(dict.fromkeys(value))
    if field == "working_hours" and value is not None:
        return ", ".join(span.strip() for span in value.lower().split(","))
    return value


# What each editable field must be, and the message naming it when it is not (the CLI, the
# admin page and the API all go through this table, so a value is refused the same everywhere).
FIELD_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "display_name": (lambda v: isinstance(v, str) and bool(v.strip()) and len(v) <= 200,
                     "a display name is 1 to 200 characters"),
    "roles": (lambda v: isinstance(v, list) and bool(v) and all(r in ROLE_NAMES for r in v),
              "roles must be among agent, supervisor, ops, admin"),
    "skills": (lambda v: isinstance(v, list) and len(v) <= 50
               and all(isinstance(s, str) and SKILL_PATTERN.match(s) for s in v),
               "a skill is a word, optionally with a level 1-9: billing or billing:3"),
    "extension": (_optional(EXTENSION_PATTERN), "an extension is digits, e.g. 1001"),
    "pbx_interface": (_optional(INTERFACE_PATTERN), "a PBX interface is TECH/resource, e.g. PJSIP/1001"),
    "language": (_optional(LANGUAGE_PATTERN), "a language is a tag such as en, es or zh_CN"),
    "email": (lambda v: v is None or (isinstance(v, str) and "@" in v and len(v) <= 320),
              "an email address has an @"),
    "mobile": (_optional(MOBILE_PATTERN), "a mobile number is E.164, e.g. +34600123456"),
    "working_hours": (_working_hours, "working hours are days and times, e.g. mon-fri 09:00-17:00, sat 10:00-14:00"),
    "softphone": (lambda v: isinstance(v, bool), "softphone is true (calls in the browser) or false (a desk phone)"),
}


def _checked_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The fields an admin may change, each checked; the first bad one is named."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"these fields cannot be changed: {', '.join(unknown)}", {"field": unknown[0]})
    out: dict[str, Any] = {}
    for field, value in changes.items():
        check, message = FIELD_CHECKS[field]
        if not check(value):
            raise InvalidInput(message, {"field": field})
        out[field] = _normalized(field, value)
    return out


async def users_for_admin(session: AsyncSession, actor: Actor) -> list[User]:
    """Everyone, disabled people too, for the admin's users page."""
    actor.require(Role.ADMIN)
    return list((await session.execute(select(User).order_by(User.active.desc(), User.display_name, User.id))).scalars())


async def user_for_admin(session: AsyncSession, actor: Actor, user_id: int) -> User:
    """One person, for the admin's edit page."""
    actor.require(Role.ADMIN)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", {"user_id": user_id})
    return user


async def edit_user(session: AsyncSession, actor: Actor, login: str, changes: dict[str, Any]) -> User:
    """An admin changes a person's roles, skills, phone, language or contact details; audited
    field by field. An extension without an interface gets ``PJSIP/<extension>``, as at creation."""
    actor.require(Role.ADMIN)
    user = await user_by_login(session, login)
    checked = _checked_changes(changes)
    if checked.get("extension") and "pbx_interface" not in checked:
        checked["pbx_interface"] = f"PJSIP/{checked['extension']}"
    if "roles" in checked and Role.ADMIN.value not in checked["roles"] and Role.ADMIN.value in (user.roles or []):
        await _keep_an_admin(session, user)
    before = {field: getattr(user, field) for field in checked}
    for field, value in checked.items():
        setattr(user, field, value)
    record_change(session, actor, "user.edit", "user", user.id, before, checked)
    await session.flush()
    return user


async def _keep_an_admin(session: AsyncSession, leaving: User) -> None:
    others = (await session.execute(select(User).where(User.active.is_(True), User.id != leaving.id))).scalars()
    if not any(Role.ADMIN.value in (u.roles or []) for u in others):
        raise Conflict("this is the last active admin: make someone else admin first", {"login": leaving.login})


async def set_user_active(session: AsyncSession, actor: Actor, login: str, active: bool) -> User:
    """Disable (or enable again) a person. Disabled, their logins end at once: their web
    sessions are deleted and their API tokens stop working (``user_for_token`` reads ``active``)."""
    actor.require(Role.ADMIN)
    user = await user_by_login(session, login)
    if not active and actor.user_id == user.id:
        raise Conflict("you cannot disable yourself", {"login": login})
    if not active and Role.ADMIN.value in (user.roles or []):
        await _keep_an_admin(session, user)
    if user.active != active:
        user.active = active
        if not active:
            await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        record_change(session, actor, "user.enable" if active else "user.disable", "user", user.id,
                      {"active": not active}, {"active": active})
    await session.flush()
    return user
