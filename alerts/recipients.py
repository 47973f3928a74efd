"""Who an escalation level reaches, resolved when it fires (so reassignment counts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.phones import try_normalize_phone
from core.records import Role, Ticket, User


@dataclasses.dataclass(frozen=True, slots=True)
class Recipient:
    channel: str  # "sms" | "email"
    address: str  # E.164 or email address
    user_id: int | None = None
    name: str = ""
    fallback_email: str | None = None  # where an SMS goes when the gateway gives up

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class Directory:
    """The active staff, read once per scan batch."""

    def __init__(self, users: Sequence[User], region: str) -> None:
        self.users = [u for u in users if u.active]
        self.by_login = {u.login: u for u in self.users}
        self.region = region

    @classmethod
    async def load(cls, session: AsyncSession, region: str) -> Directory:
        return cls(list((await session.execute(select(User))).scalars()), region)

    def _with_role(self, role: Role, queue: str) -> list[User]:
        holders = [u for u in self.users if role.value in (u.roles or [])]
        # Staff who list the queue among their skills belong to it; if none do, everyone with the role.
        members = [u for u in holders if queue in (u.skills or [])]
        return members or holders

    def people(self, spec: str, ticket: Ticket) -> list[User]:
        if spec == "assignee":
            user = next((u for u in self.users if u.id == ticket.assignee_id), None)
            return [user] if user else self._with_role(Role.AGENT, ticket.queue)
        if spec == "queue_agents":
            return self._with_role(Role.AGENT, ticket.queue)
        if spec == "supervisors":
            return self._with_role(Role.SUPERVISOR, ticket.queue)
        if spec.startswith("user:"):
            user = self.by_login.get(spec[5:])
            return [user] if user else []
        return []

    def resolve(self, specs: Sequence[str], channels: Sequence[str], ticket: Ticket) -> list[Recipient]:
        """Every (channel, address) once; a person without a mobile gets the SMS as email."""
        out: dict[tuple[str, str], Recipient] = {}

        def put(r: Recipient) -> None:
            out.setdefault((r.channel, r.address), r)

        for spec in specs:
            if spec.startswith("phone:"):
                phone = try_normalize_phone(spec[6:], self.region)
                if phone and "sms" in channels:
                    put(Recipient("sms", phone))
                continue
            if spec.startswith("email:"):
                if "email" in channels:
                    put(Recipient("email", spec[6:].strip().lower()))
                continue
            for user in self.people(spec, ticket):
                mobile = try_normalize_phone(user.mobile, self.region) if user.mobile else None
                for channel in channels:
                    if channel == "sms" and mobile:
                        put(Recipient("sms", mobile, user.id, user.display_name, user.email))
                    elif user.email and (channel == "email" or channel == "sms"):
                        put(Recipient("email", user.email.lower(), user.id, user.display_name))
        return list(out.values())
