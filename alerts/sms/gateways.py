"""SMS gateway adapters behind one interface: ``await gateway.send(to, text, reference)``.

``to`` is E.164; ``reference`` is the outbox row's unique key, passed to gateways that
accept a client reference or idempotency key so a retry after a crash is not sent twice
by gateways that honour it. Adapters raise ``TemporaryFailure`` (timeouts, 5xx, 429) or
``PermanentFailure`` (other rejections); the outbox worker retries or gives up.

SMPP: no adapter yet. ``aiosmpplib`` (asyncio, maintained) fits this interface: a
``SmppGateway`` would hold one bound ESME session and map submit_sm_resp status codes
to the two failures. It is not built because no SMPP peer can run in the test suite.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Protocol

import aiohttp

from alerts.settings import SmsHttpSettings, SmsSettings, SmsTwilioSettings
from channels.outbox import PermanentFailure, TemporaryFailure
from core.errors import InvalidInput
from core.template_workers import TemplateJob, TemplateRenderer

log = logging.getLogger(__name__)


class SmsGateway(Protocol):
    async def send(self, to: str, text: str, reference: str) -> str:
        """Hand the message to the gateway; return its message id (or "")."""
        ...

    async def close(self) -> None: ...


def classify(status: int, detail: str) -> Exception:
    if status == 429 or status >= 500:
        return TemporaryFailure(f"gateway answered {status}: {detail[:200]}")
    return PermanentFailure(f"gateway refused with {status}: {detail[:200]}")


class LogGateway:
    """Development: writes the SMS to the log and keeps the last ones."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, text: str, reference: str) -> str:
        log.info("SMS to %s: %s", to, text)
        self.sent.append((to, text))
        return reference

    async def close(self) -> None:
        return None


class _HttpClient:
    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpGateway(_HttpClient):
    """Any HTTP gateway: URL, method, headers and body from templates; a success rule."""

    def __init__(self, settings: SmsHttpSettings, sender: str, renderer: TemplateRenderer | None = None) -> None:
        super().__init__(settings.timeout)
        if not settings.url:
            raise ValueError("sla.sms.http.url is required for the http gateway")
        self.settings = settings
        self.sender = sender
        # The URL and body templates come from the config file: ops-authored, so they render in
        # the budgeted render workers like every other such template.
        self.renderer = renderer or TemplateRenderer()
        self._success = re.compile(settings.success_body) if settings.success_body else None

    async def send(self, to: str, text: str, reference: str) -> str:
        values = {"to": to, "text": text, "sender": self.sender, "reference": reference}
        headers = {"Content-Type": self.settings.content_type, "Idempotency-Key": reference}
        headers.update(self.settings.headers)
        kwargs: dict[str, object] = {"headers": headers}
        try:
            url, body = await self.renderer.render([
                TemplateJob("sla.sms.http.url", self.settings.url, values),
                TemplateJob("sla.sms.http.body", self.settings.body if self.settings.method != "GET" else "", values),
            ])
        except InvalidInput as exc:
            raise PermanentFailure(exc.message) from None
        if self.settings.method != "GET":
            kwargs["data"] = body.encode()
        try:
            async with self.client().request(self.settings.method, url, **kwargs) as resp:  # type: ignore[arg-type]
                body = await resp.text(errors="replace")
                if resp.status not in self.settings.success_status:
                    raise classify(resp.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(f"gateway unreachable: {type(exc).__name__}: {exc}") from None
        if self._success and not self._success.search(body):
            raise TemporaryFailure(f"gateway answer does not say success: {body[:200]}")
        return reference


class TwilioGateway(_HttpClient):
    """Twilio's REST API (and compatible services): form POST with basic auth."""

    def __init__(self, settings: SmsTwilioSettings) -> None:
        super().__init__(settings.timeout)
        if not (settings.account_sid and settings.auth_token.get_secret_value() and settings.from_number):
            raise ValueError("sla.sms.twilio needs account_sid, auth_token and from_number")
        self.settings = settings

    async def send(self, to: str, text: str, reference: str) -> str:
        s = self.settings
        url = f"{s.api_base.rstrip('/')}/2010-04-01/Accounts/{s.account_sid}/Messages.json"
        credentials = f"{s.account_sid}:{s.auth_token.get_secret_value()}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
        form = {"To": to, "From": s.from_number, "Body": text}
        try:
            async with self.client().post(url, data=form, headers=headers) as resp:
                body = await resp.text(errors="replace")
                if resp.status not in (200, 201):
                    raise classify(resp.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryFailure(f"gateway unreachable: {type(exc).__name__}: {exc}") from None
        try:
            return str(json.loads(body).get("sid", ""))
        except (ValueError, AttributeError):
            return ""


def build_gateway(settings: SmsSettings, renderer: TemplateRenderer | None = None) -> SmsGateway:
    if settings.gateway == "http":
        return HttpGateway(settings.http, settings.sender, renderer)
    if settings.gateway == "twilio":
        return TwilioGateway(settings.twilio)
    return LogGateway()
