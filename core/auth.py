"""Who is acting, and the role checks every service call makes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from core.errors import Forbidden
from core.records import Role, User

# A higher role includes the powers of the ones it names.
_IMPLIES: dict[Role, frozenset[Role]] = {
    Role.AGENT: frozenset({Role.AGENT}),
    Role.SUPERVISOR: frozenset({Role.SUPERVISOR, Role.AGENT}),
    Role.OPS: frozenset({Role.OPS}),
    Role.ADMIN: frozenset(Role),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    login: str
    roles: frozenset[Role]

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.id, user.login, effective_roles(user.roles))

    @classmethod
    def system(cls) -> Actor:
        """The server itself (ingest, scanner): may do anything, audited as no person."""
        return cls(None, "system", frozenset(Role))

    def has(self, role: Role) -> bool:
        return role in self.roles

    def require(self, *roles: Role) -> None:
        """Pass if the actor holds any of ``roles``."""
        if not any(r in self.roles for r in roles):
            wanted = " or ".join(r.value for r in roles)
            raise Forbidden(f"this needs the {wanted} role", {"login": self.login})


def effective_roles(names: Iterable[str]) -> frozenset[Role]:
    roles: set[Role] = set()
    for name in names:
        try:
            roles |= _IMPLIES[Role(name)]
        except ValueError:
            continue
    return frozenset(roles)
