"""The client address read from X-Forwarded-For: only what trusted proxies wrote counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent_ui.base.client_address import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def test_the_peer_counts_when_it_is_not_a_trusted_proxy() -> None:
    assert client_address("203.0.113.5", ["198.51.100.1"], PROXIES) == "203.0.113.5"


def test_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.5, 10.1.1.1"], PROXIES) == "203.0.113.5"
    assert client_address("127.0.0.1", ["1.2.3.4", "203.0.113.5"], PROXIES) == "203.0.113.5"


def test_an_unreadable_hop_stops_at_the_proxy_that_wrote_it() -> None:
    assert client_address("127.0.0.1", ["203.0.113.5, garbage"], PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", ["::ffff:203.0.113.5"], PROXIES) == "203.0.113.5"


@given(st.lists(st.text(max_size=40), max_size=5))
def test_any_header_gives_an_address_and_never_one_only_the_client_wrote(headers: list[str]) -> None:
    # The right-most hop was written by our proxy: a client cannot get past it by writing more.
    address = client_address("127.0.0.1", [*headers, "203.0.113.5"], PROXIES)
    assert address == "203.0.113.5"
