"""Who is asking: a session cookie or an API token, and the CSRF check for cookie requests.

Handlers call ``actor_of(request)`` (raises ``NotAuthenticated``) and pass the
``Actor`` to services, which check roles. Requests authenticated by an API token
(``Authorization: Bearer fd_...``) carry no ambient credentials and skip CSRF.
"""

from __future__ import annotations

import dataclasses
import hmac
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from agent_ui.base.inputs import form_of
from agent_ui.base.keys import SERVICES, SESSIONS
from agent_ui.base.sessions import COOKIE_NAME
from core.auth import Actor
from core.errors import Forbidden, NotAuthenticated
from core.records import User
from core.users import user_for_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths that never need to know who is asking (no database read).
ANONYMOUS_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics")
CSRF_EXEMPT = frozenset({"/login"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class CsrfRejected(Forbidden):
    error_id = "csrf-token-invalid"


@dataclasses.dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    actor: Actor
    csrf_token: str | None  # None when authenticated by API token
    via_token: bool


_SIGNED_IN: web.RequestKey[SignedIn] = web.RequestKey("signed_in")


def signed_in(request: web.Request) -> SignedIn | None:
    return request.get(_SIGNED_IN)


def actor_of(request: web.Request) -> Actor:
    who = signed_in(request)
    if who is None:
        raise NotAuthenticated("log in first, or send an API token")
    return who.actor


async def _identify(request: web.Request) -> SignedIn | None:
    services = request.app[SERVICES]
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        async with services.db.session() as session:
            user = await user_for_token(session, token.strip(), services.clock.now())
        if user is None:
            raise NotAuthenticated("unknown, expired or revoked API token")
        return SignedIn(user, Actor.of(user), None, True)
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    async with services.db.session() as session:
        found = await request.app[SESSIONS].resolve(session, cookie)
    if found is None:
        return None
    user, row = found
    return SignedIn(user, Actor.of(user), row.csrf_token, False)


def same_origin(request: web.Request) -> bool:
    """True unless the browser says the request comes from another site (``Origin`` header)."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    netloc = urlsplit(origin).netloc
    base_url = request.app[SERVICES].settings.web.base_url
    return netloc == request.host or (bool(base_url) and netloc == urlsplit(base_url).netloc)


def _check_origin(request: web.Request) -> None:
    if request.method not in SAFE_METHODS and not same_origin(request):
        raise CsrfRejected("this form was sent from another site", {"origin": request.headers.get("Origin")})


async def _check_csrf(request: web.Request, who: SignedIn) -> None:
    if who.via_token or request.method in SAFE_METHODS or request.path in CSRF_EXEMPT:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await form_of(request)
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent or not who.csrf_token or not hmac.compare_digest(sent, who.csrf_token):
        raise CsrfRejected(
            f"missing or wrong CSRF token: send the page's token as the {CSRF_FIELD} field "
            f"or the {CSRF_HEADER} header"
        )


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(ANONYMOUS_PREFIXES):
        who = await _identify(request)
        if who is None or not who.via_token:
            _check_origin(request)  # also guards the login form, which has no token yet
        if who is not None:
            request[_SIGNED_IN] = who
            await _check_csrf(request, who)
    return await handler(request)
