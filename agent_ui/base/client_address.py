"""The client's address behind a reverse proxy.

Rate limits (logins, the help form, sign-in links) count per client address. Behind nginx every
request comes from the proxy, so without this one customer's flood would lock out everyone.
``X-Forwarded-For`` is believed only when the peer is a configured trusted proxy, and read from
the right: each trusted hop appended the address it saw, so the first untrusted address from the
right is the client, whatever a client wrote into the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks; a bad one raises ValueError naming it."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {value!r}") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """The address to count a request against: the peer itself unless it is a trusted proxy."""
    current = _address(peer or "")
    if current is None or not trusted:
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    while any(current in network for network in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:  # a hop we cannot read: stop at the last proxy that wrote one
            break
        current = previous
    return str(current)


def client_address_middleware(trusted: Sequence[Network]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers.getall("X-Forwarded-For", [])
        if not headers:
            return await handler(request)
        address = client_address(request.remote, headers, trusted)
        if address is None or address == request.remote:
            return await handler(request)
        return await handler(request.clone(remote=address))

    return middleware
