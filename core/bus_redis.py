"""Cluster bus frames over Redis pub/sub (when ``cluster.redis_url`` is set).

One client publishes (a batch of frames in one pipelined round trip, in order); a dedicated
pub/sub connection listens. redis-py would reconnect a lost pub/sub connection by itself and
hide the loss; here retries are off, so a loss ends ``listen`` and the bus reconnects and
resynchronises (what was published meanwhile never reached this instance).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)

CHANNEL = "frontdesk_events"
REDIS_FRAME_LIMIT = 64 * 1024  # Redis takes far more; large events are still cut (one reader's buffer)
CONNECT_TIMEOUT_S = 5.0


class RedisPubSub:
    backend = "redis"
    limit = REDIS_FRAME_LIMIT

    def __init__(self, url: str, instance_id: str, keepalive_s: float = 5.0, channel: str = CHANNEL) -> None:
        self.channel = channel
        self._url = url
        self._name = f"frontdesk-bus:{instance_id}"
        self.keepalive_s = keepalive_s
        self._sender: redis.Redis | None = None
        self.listener_name = f"{self._name}:listen"  # as CLIENT LIST shows it (tests end it)

    def _client(self, role: str) -> redis.Redis:
        return redis.Redis.from_url(self._url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=CONNECT_TIMEOUT_S,
                                    client_name=f"{self._name}:{role}", decode_responses=True)

    async def listen(self, deliver: Callable[[str], None], ready: Callable[[], None]) -> None:
        client = self._client("listen")
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            message = await pubsub.get_message(timeout=self.keepalive_s)  # the subscription's confirmation
            if message is None or message.get("type") != "subscribe":
                raise ConnectionError("Redis did not confirm the subscription")
            ready()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.keepalive_s)
                if message is None:
                    async with asyncio.timeout(self.keepalive_s):
                        await pubsub.ping()  # a dead connection shows here
                elif message.get("type") == "message":
                    deliver(message["data"])
        finally:
            try:
                await pubsub.aclose()
            finally:
                await client.aclose()

    async def send(self, payloads: Sequence[str]) -> None:
        if self._sender is None:
            self._sender = self._client("send")
        try:
            async with self._sender.pipeline(transaction=False) as pipe:
                for frame in payloads:
                    pipe.publish(self.channel, frame)
                await pipe.execute()
        except BaseException:
            sender, self._sender = self._sender, None
            await sender.aclose()
            raise

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            await sender.aclose()

