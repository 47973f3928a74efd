"""Draining an instance on ``SIGTERM``: no new live sockets, the open ones told to reconnect elsewhere.

aiohttp's shutdown (``run_app`` turns ``SIGTERM`` into it) first stops listening, then runs the
``on_shutdown`` hooks, then waits for the requests in flight. ``Drain.begin`` is the first of
those hooks: from then on a live or wallboard socket asked for on a connection still open
(keep-alive) is refused with 503, and ``/readyz`` says "draining"; the hubs' own hooks then close
every open socket with 1012 "reconnect elsewhere" (``agent_ui.live.slow_clients``), which the
console and the wallboard answer by reconnecting at once — to another instance behind the load
balancer. Nothing a socket holds is lost: a page reads its state again on every reconnect.
"""

from __future__ import annotations

import logging

from aiohttp import web

from core.errors import Unavailable

log = logging.getLogger(__name__)


class Drain:
    def __init__(self) -> None:
        self.draining = False

    async def begin(self, _app: web.Application) -> None:
        if not self.draining:
            self.draining = True
            log.info("draining: no new live connections; the open ones are told to reconnect elsewhere")

    def refuse_new_socket(self) -> None:
        """Called before a live socket is opened: refused while the instance drains."""
        if self.draining:
            raise Unavailable("this server is shutting down: reconnect elsewhere")


DRAIN: web.AppKey[Drain] = web.AppKey("drain", Drain)
