"""Password hashing with argon2 (argon2-cffi's recommended parameters by default)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def configure_hasher(time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
    """Set the cost; test suites use a cheap setting, production keeps the defaults."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Verify; an unknown login is checked against a dummy hash so both take the same time."""
    global _dummy_hash
    if password_hash is None:
        _dummy_hash = _dummy_hash or _hasher.hash("frontdesk-dummy-password")
    try:
        return _hasher.verify(password_hash or _dummy_hash or "", password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
