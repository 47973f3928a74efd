"""Shared web fixtures: the real app on a loopback port, people to log in as, and a browser.

Loaded by ``tests/conftest.py``; any test may ask for them:

* ``site`` (``WebSite``): the full app (``config.app.build_app``) served by aiohttp's
  ``TestServer`` on 127.0.0.1 and an ephemeral port, with users ``agent``, ``agent2``,
  ``supervisor``, ``ops`` and ``admin`` (password ``PASSWORD``). ``site.url`` is its base URL.
  ``await site.login("agent")`` gives a ``StaffClient``: a logged-in HTTP client whose
  ``api(method, path, json=..., status=...)`` sends the CSRF header and checks the status.
  ``await site.token_client("agent")`` does the same with an API token instead of a cookie.
  Override the ``clock`` fixture to run the site on a ``ManualClock``.
* ``browser`` (Playwright ``Browser``): Debian's headless Chromium (skipped when absent);
  ``console_page(site, browser, "agent")`` opens a page already logged in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from config.app import build_app
from config.services import Services
from core.records import User
from core.users import add_user, issue_api_token

PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STAFF = {
    "agent": ["agent"],
    "agent2": ["agent"],
    "supervisor": ["supervisor"],
    "ops": ["ops"],
    "admin": ["admin"],
}


@dataclasses.dataclass
class StaffClient:
    """A logged-in HTTP client. ``api`` adds the CSRF header (cookie logins) and checks the status."""

    http: TestClient[Any, Any]
    csrf_token: str | None

    async def api(
        self, method: str, path: str, json: Any = None, status: int | None = 200, **kwargs: Any
    ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if self.csrf_token and method.upper() not in ("GET", "HEAD"):
            headers.setdefault("X-CSRF-Token", self.csrf_token)
        response = await self.http.request(method, path, json=json, headers=headers, **kwargs)
        body = await _body(response)
        if status is not None:
            assert response.status == status, f"{method} {path}: {response.status} {body}"
        return body

    async def close(self) -> None:
        await self.http.close()


async def _body(response: ClientResponse) -> Any:
    if response.content_type == "application/json":
        return await response.json()
    return await response.text()


@dataclasses.dataclass
class WebSite:
    server: TestServer
    services: Services
    users: dict[str, User]
    clients: list[StaffClient] = dataclasses.field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def anonymous(self) -> StaffClient:
        http: TestClient[Any, Any] = TestClient(self.server)
        await http.start_server()
        client = StaffClient(http, None)
        self.clients.append(client)
        return client

    async def login(self, login: str, password: str = PASSWORD) -> StaffClient:
        client = await self.anonymous()
        response = await client.http.post(
            "/login", data={"login": login, "password": password}, allow_redirects=False
        )
        assert response.status == 303, f"login {login}: {response.status} {await response.text()}"
        me = await client.api("GET", "/api/v1/me")
        client.csrf_token = me["csrf_token"]
        return client

    async def token_client(self, login: str) -> StaffClient:
        async with self.services.db.transaction() as session:
            user = await session.get(User, self.users[login].id)
            assert user is not None
            token = await issue_api_token(session, user, "test")
        http: TestClient[Any, Any] = TestClient(self.server, headers={"Authorization": f"Bearer {token}"})
        await http.start_server()
        client = StaffClient(http, None)
        self.clients.append(client)
        return client


@pytest.fixture
async def site(services: Services) -> AsyncIterator[WebSite]:
    async with services.db.transaction() as session:
        users = {
            login: await add_user(session, login, PASSWORD, login.capitalize(), roles)
            for login, roles in STAFF.items()
        }
    server = TestServer(build_app(services.settings, services), host="127.0.0.1", port=0)
    await server.start_server()
    web_site = WebSite(server, services, users)
    try:
        yield web_site
    finally:
        for client in web_site.clients:
            await client.close()
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from conftest import need_executable

    need_executable(CHROMIUM, "Debian's chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def console_page(site: WebSite, browser: Any, login: str) -> Any:
    """A new browser page logged into the console as ``login`` (on the queue page)."""
    page = await browser.new_page()
    await page.goto(site.url + "/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/queue")
    return page


# -- every route the app serves (the security suite walks them all) ----------------------
@dataclasses.dataclass(frozen=True)
class ServedRoute:
    """One (method, route) of the app's router, with a concrete path that resolves to it."""

    method: str
    canonical: str  # as declared: /api/v1/tickets/{ticket_id}
    path: str  # a request path that reaches it: /api/v1/tickets/1

    @property
    def changes_state(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    def __str__(self) -> str:
        return f"{self.method} {self.canonical}"


# Values tried for each path parameter, first match wins (a route's regex may constrain it).
_PARAMETER_VALUES = ("1", "login", "logout", "agents", "support")


def served_routes(app: Any) -> list[ServedRoute]:
    """Every route of ``app``'s router, so a route added anywhere is covered without a test edit."""
    import itertools
    import re

    found: list[ServedRoute] = []
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        info = resource.get_info()
        canonical = resource.canonical
        if canonical == "/static/{name}":  # static files: one that exists
            path = "/static/live.js"
        elif "pattern" in info:
            names = re.findall(r"\{([^}]+)\}", canonical)
            pattern = info["pattern"]
            candidates = (
                canonical.format(**dict(zip(names, values, strict=True)))
                for values in itertools.product(_PARAMETER_VALUES, repeat=len(names))
            )
            path = next((p for p in candidates if pattern.fullmatch(p)), "")
            assert path, f"no test value reaches {canonical}: add one to _PARAMETER_VALUES"
        else:
            path = canonical
        found.append(ServedRoute(route.method, canonical, path))
    return found
