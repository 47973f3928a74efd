"""Which URLs a webhook may be sent to.

Refused always: schemes other than http/https, credentials in the URL, no host, over-long
URLs. Refused unless ``webhooks.allow_private_targets``: loopback, private, link-local and
other non-public addresses — checked on the URL when a subscription is saved and again on
every address the name resolves to when a delivery connects (``GuardedResolver``), so a
name that later points inside the network is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from core.errors import InvalidInput

URL_CAP = 2000
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class TargetRefused(OSError):
    """The receiver's address is not one webhooks may reach."""


def is_public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """The URL as it will be used, or ``InvalidInput`` naming the field ``url``."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("a webhook needs a URL", {"field": "url"})
    if len(url) > URL_CAP:
        raise InvalidInput("the URL is too long", {"field": "url", "max": URL_CAP})
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidInput("the URL may not contain spaces or control characters", {"field": "url"})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("not a valid URL", {"field": "url"}) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("a webhook URL starts with http:// or https://", {"field": "url"})
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidInput("a webhook URL may not carry a user name or password", {"field": "url"})
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidInput("the URL has no host", {"field": "url"})
    if port == 0:
        raise InvalidInput("not a valid URL", {"field": "url"})
    if not allow_private and not host_may_be_public(host):
        raise InvalidInput("private, loopback and link-local addresses are not allowed as webhook targets",
                           {"field": "url"})
    return url


def host_may_be_public(host: str) -> bool:
    """False for a literal non-public address or a local name; a DNS name is checked when resolved."""
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return True
    return is_public_address(host)


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then keeps only public addresses (all of them if private are allowed)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self.allow_private:
            return results
        kept = [r for r in results if is_public_address(r["host"])]
        if not kept:
            raise TargetRefused(f"{host} resolves only to addresses webhooks may not reach")
        return kept

    async def close(self) -> None:
        await self._inner.close()
