"""Administrative commands that write to the database."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from core.auth import Actor
from core.clock import SystemClock
from core.db import Database
from core.errors import FrontdeskError
from core.password_changes import issue_reset_link
from core.users import (
    add_user,
    edit_user,
    issue_token_for,
    list_tokens,
    list_users,
    revoke_token,
    set_user_active,
    token_dict,
    token_state,
)


async def _as_system(settings: Settings, what: str, work: Callable[[AsyncSession, Actor], Awaitable[int]]) -> int:
    """One transaction acting as the system (whoever runs the server's CLI; audited as such);
    a refusal is printed as ``cannot <what>: <why>`` with exit code 2, nothing written."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await work(session, Actor.system())
    except FrontdeskError as exc:
        print(f"cannot {what}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await db.close()


async def add_user_command(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("password: ")

    async def work(session: AsyncSession, _system: Actor) -> int:
        user = await add_user(session, args.login, password, args.name or args.login, args.role or ["agent"],
                              extension=args.extension, pbx_interface=args.interface)
        print(f"user {user.login} added (id {user.id}, roles {', '.join(user.roles)})")
        return 0

    return await _as_system(settings, "add user", work)


async def token_command(settings: Settings, args: argparse.Namespace) -> int:
    """``frontdesk token add|list|revoke``: no web session, so no CSRF token is involved."""
    now = SystemClock().now()

    async def work(session: AsyncSession, system: Actor) -> int:
        if args.token_command == "add":
            token, row = await issue_token_for(session, system, args.login, args.name, now, args.days)
            print(f"token {row.id} '{row.name}' for {args.login}, expires {token_dict(row)['expires_at']}")
            print("shown once, keep it secret:")
            print(token)
        elif args.token_command == "list":
            rows = await list_tokens(session, system, everyone=True, login=args.login)
            print(f"{'id':>5}  {'login':<16} {'name':<24} {'starts':<8} {'expires':<25} state")
            for row, user in rows:
                d = token_dict(row, user)
                print(f"{d['id']:>5}  {user.login:<16} {row.name[:24]:<24} {row.hint:<8} "
                      f"{d['expires_at']:<25} {token_state(row, now)}")
        else:
            row = await revoke_token(session, system, args.token_id, now)
            print(f"token {row.id} '{row.name}' revoked")
        return 0

    return await _as_system(settings, f"{args.token_command} the token", work)


def _edits(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given to ``user edit``; an empty value clears a field (``--extension ''``)."""
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["display_name"] = args.name
    if args.role:
        changes["roles"] = args.role
    if args.skill is not None:
        changes["skills"] = [s for s in args.skill if s]
    for flag, field in (("extension", "extension"), ("interface", "pbx_interface"), ("language", "language"),
                        ("email", "email"), ("mobile", "mobile"), ("working_hours", "working_hours")):
        value = getattr(args, flag)
        if value is not None:
            changes[field] = value or None
    if getattr(args, "softphone", None) is not None:
        changes["softphone"] = args.softphone == "on"
    return changes


async def user_command(settings: Settings, args: argparse.Namespace) -> int:
    """``frontdesk user list|edit|disable|enable|reset-link``."""

    async def work(session: AsyncSession, system: Actor) -> int:
        if args.user_command == "list":
            users = await list_users(session, system, include_inactive=args.all)
            print(f"{'id':>5}  {'login':<16} {'name':<24} {'roles':<22} {'interface':<16} {'skills':<24} state")
            for user in users:
                print(f"{user.id:>5}  {user.login:<16} {user.display_name[:24]:<24} {','.join(user.roles or [])[:22]:<22} "
                      f"{(user.pbx_interface or '-')[:16]:<16} {','.join(map(str, user.skills or []))[:24] or '-':<24} "
                      f"{'active' if user.active else 'disabled'}")
        elif args.user_command == "edit":
            changes = _edits(args)
            if not changes:
                print("nothing to change: give at least one option (see --help)", file=sys.stderr)
                return 2
            user = await edit_user(session, system, args.login, changes)
            print(f"user {user.login} changed: {', '.join(sorted(changes))}")
        elif args.user_command == "reset-link":
            token, row = await issue_reset_link(session, system, args.login, SystemClock().now())
            base = settings.web.base_url.rstrip("/") or f"http://{settings.web.host}:{settings.web.port}"
            print(f"one-time password link for {args.login}, valid until {row.expires_at.isoformat(timespec='minutes')}:")
            print(f"{base}/password/reset?token={token}")
        else:
            user = await set_user_active(session, system, args.login, args.user_command == "enable")
            print(f"user {user.login} {'enabled' if user.active else 'disabled: their sessions ended and tokens stopped'}")
        return 0

    return await _as_system(settings, f"{args.user_command} the user", work)
