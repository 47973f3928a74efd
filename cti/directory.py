"""Which user is behind a PBX interface: ``User.pbx_interface`` (e.g. ``PJSIP/1001``),
else ``PJSIP/<User.extension>``. Held in memory (the tracker asks on every ring) and
reloaded after each (re)connect and on demand when users change."""

from __future__ import annotations

from sqlalchemy import select

from core.db import Database
from core.records import User


def interface_for(user: User) -> str | None:
    if user.pbx_interface:
        return user.pbx_interface
    return f"PJSIP/{user.extension}" if user.extension else None


class AgentDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.by_interface: dict[str, int] = {}
        self.by_user: dict[int, str] = {}

    async def reload(self) -> None:
        async with self.db.session() as session:
            users = (await session.execute(select(User).where(User.active.is_(True)))).scalars().all()
        by_interface: dict[str, int] = {}
        for user in users:
            interface = interface_for(user)
            if interface:
                by_interface[interface] = user.id
        self.by_interface = by_interface
        self.by_user = {uid: i for i, uid in by_interface.items()}

    def user_for(self, interface: str) -> int | None:
        return self.by_interface.get(interface)

    def interface_of(self, user_id: int) -> str | None:
        return self.by_user.get(user_id)
