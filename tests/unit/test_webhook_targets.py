"""Where a webhook may be sent: only http(s), no credentials, and no inside addresses unless allowed."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from integrations.signing import signature_header, verify
from integrations.targets import check_url

INSIDE = [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://api.localhost/hook", "http://[::1]/hook",
    "http://10.1.2.3/hook", "http://192.168.0.10/hook", "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook",
    "http://[fe80::1]/hook", "http://100.64.0.1/hook",
]


@pytest.mark.parametrize("url", INSIDE)
def test_inside_addresses_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_private=False)
    assert refused.value.details["field"] == "url"
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", [
    "ftp://crm.example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "crm.example.com/hook",
    "https://user:secret@crm.example.com/hook", "https://user@crm.example.com/hook", "https:///hook",
    "https://crm.example.com/ho ok", "https://crm.example.com:99999/hook", "", "https://x.com/" + "a" * 2000,
])
def test_other_schemes_credentials_and_broken_urls_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_private=True)
    assert refused.value.details["field"] == "url"


def test_public_targets_are_kept() -> None:
    assert check_url(" https://crm.example.com/hooks/frontdesk?x=1 ", False) == "https://crm.example.com/hooks/frontdesk?x=1"
    assert check_url("http://93.184.216.34:8080/hook", False) == "http://93.184.216.34:8080/hook"


def test_the_signature_covers_the_time_and_the_body() -> None:
    header = signature_header("whsec_abc", 1_700_000_000, b'{"id":"evt_1"}')
    assert header.startswith("t=1700000000,v1=")
    assert verify("whsec_abc", header, b'{"id":"evt_1"}', now=1_700_000_100)
    assert not verify("whsec_abc", header, b'{"id":"evt_2"}', now=1_700_000_100)
    assert not verify("whsec_abc", header.replace("t=1700000000", "t=1700000050"), b'{"id":"evt_1"}', now=1_700_000_100)
    assert not verify("whsec_abc", header, b'{"id":"evt_1"}', now=1_700_001_000)  # too old
    assert not verify("whsec_abc", "v1=deadbeef", b"{}", now=1_700_000_000)
