"""Administrative commands that write to the database."""

from __future__ import annotations

import argparse
import getpass
import sys

from config.settings import Settings
from core.db import Database
from core.errors import FrontdeskError
from core.users import add_user


async def add_user_command(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("password: ")
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            user = await add_user(
                session,
                args.login,
                password,
                args.name or args.login,
                args.role or ["agent"],
                extension=args.extension,
                pbx_interface=args.interface,
            )
            print(f"user {user.login} added (id {user.id}, roles {', '.join(user.roles)})")
        return 0
    except FrontdeskError as exc:
        print(f"cannot add user: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await db.close()
