"""Open redirect: the login page and the language switcher send people back to ``next``;
an attacker's link must never make them land on another site (issue 10, finding 4)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_fixtures import PASSWORD, WebSite

from agent_ui.login.views import safe_next

# What a browser does to a Location before resolving it (WHATWG URL parser): drop leading and
# trailing C0 controls and spaces, remove every tab and newline, read a backslash as a slash.
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def as_a_browser_reads_it(location: str) -> str:
    text = location.strip(_C0_AND_SPACE)
    for char in "\t\n\r":
        text = text.replace(char, "")
    return text.replace("\\", "/")


def stays_on_the_site(location: str) -> bool:
    seen = as_a_browser_reads_it(location)
    return seen.startswith("/") and not seen.startswith("//")


ATTACKS = [
    "%2F%09%2Fevil.example",  # the payload: a tab that yarl strips after the check
    "%2F%0A%2Fevil.example",
    "%2F%0D%2Fevil.example",
    "%2F%5Cevil.example",  # /\evil.example: a browser reads the backslash as a slash
    "%2F%2Fevil.example",
    "https%3A%2F%2Fevil.example",
    "%2F%20%2Fevil.example",
    "%2F%252F%252Fevil.example",  # encoded twice
    "%2F%25%30%39%2Fevil.example",  # an encoded tab, encoded again
    "%E2%80%A8%2F%2Fevil.example",
    "%2F%E2%80%A8%2Fevil.example",  # a Unicode line separator
    "%2F%EF%BB%BF%2Fevil.example",  # a zero-width no-break space
]

# Any text at all, with the separators and spoilers an attacker would pick made likely.
_pieces = st.sampled_from(["/", "//", "\\", "\t", "\n", "\r", " ", "%2F", "%5C", "%09", "%25", ":", "@",
                           "evil.example", "\u2028", "\x00", "\ufeff", "?", "#", ".."])
nexts = st.builds(
    "".join,
    st.tuples(st.sampled_from(["/", ""]), st.lists(st.one_of(_pieces, _pieces, st.text(max_size=4)), max_size=8).map("".join)),
)


@pytest.mark.parametrize("payload", ATTACKS)
async def test_a_signed_in_login_link_never_bounces_to_another_site(site: WebSite, payload: str) -> None:
    agent = await site.login("agent")
    response = await agent.http.get(f"/login?next={payload}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/queue"


@pytest.mark.parametrize("payload", ATTACKS[:4])
async def test_logging_in_from_an_attackers_link_lands_on_the_site(site: WebSite, payload: str) -> None:
    from urllib.parse import unquote

    anon = await site.anonymous()
    page = await anon.http.get(f"/login?next={payload}")
    assert "evil.example" not in await page.text()
    response = await anon.http.post(
        "/login", data={"login": "agent", "password": PASSWORD, "next": unquote(payload)}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/queue"


async def test_the_language_switcher_never_bounces_to_another_site(site: WebSite) -> None:
    agent = await site.login("agent")
    for payload in ("/\t/evil.example", "/\\evil.example", "//evil.example", "/%09/evil.example"):
        response = await agent.http.post(
            "/preferences/language",
            data={"language": "en", "next": payload, "csrf_token": agent.csrf_token or ""},
            allow_redirects=False,
        )
        assert response.status == 303
        assert response.headers["Location"] == "/queue", payload


async def test_a_local_next_still_works(site: WebSite) -> None:
    agent = await site.login("agent")
    response = await agent.http.get("/login?next=%2Ftickets%2F7%3Ftab%3Dnotes", allow_redirects=False)
    assert response.headers["Location"] == "/tickets/7?tab=notes"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=nexts)
async def test_whatever_next_is_the_location_stays_on_the_site(site: WebSite, target: str) -> None:
    """Over real HTTP: the Location header aiohttp actually sends, read as a browser reads it."""
    agent: Any = site.clients[0] if site.clients else await site.login("agent")
    response = await agent.http.post(
        "/preferences/language",
        data={"language": "", "next": target, "csrf_token": agent.csrf_token or ""},
        allow_redirects=False,
    )
    assert response.status == 303
    assert stays_on_the_site(response.headers["Location"]), (target, response.headers["Location"])


@settings(max_examples=500, deadline=None)
@given(target=nexts)
def test_safe_next_only_ever_answers_a_same_site_path(target: str) -> None:
    assert stays_on_the_site(safe_next(target))


def test_a_query_with_encoded_spaces_is_still_a_fine_place_to_return_to() -> None:
    assert safe_next("/queue?queue=First%20line&status=open") == "/queue?queue=First%20line&status=open"
    assert safe_next("/help?q=reset%20password#top") == "/help?q=reset%20password#top"
    assert safe_next("/queue?x=1\t") == "/queue"  # a raw control character is refused anywhere
