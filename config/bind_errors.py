"""What ``serve`` and ``demo`` say when their port cannot be had, instead of a traceback.

A newcomer whose port 8080 is taken (another demo still running, another web server) got a
page of asyncio tracebacks ending in ``OSError: [Errno 98]``; this names the port and the
option that picks another.
"""

from __future__ import annotations

import errno


def bind_refused(exc: OSError, host: str, port: int, command: str) -> str | None:
    """A one-paragraph answer when ``exc`` is the listening socket refused, else None (not ours to explain)."""
    if exc.errno == errno.EADDRINUSE:
        return (f"{host}:{port} is already in use (another Frontdesk still running, or another server): "
                f"stop it, or choose another port: {command} --port {port + 1}")
    if exc.errno == errno.EACCES:
        return f"{host}:{port} may not be opened by this user (ports below 1024 need privileges): {command} --port 8080"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: {command} --host 127.0.0.1"
    return None
