"""SMS length: GSM-7 and UCS-2 (Chinese) counting, cutting with the link kept, splitting."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from alerts.sms.inbound import (
    InboundSms,
    ReplayGuard,
    parse_inbound,
    signed_headers,
    twilio_signature,
)
from alerts.sms.text import fit, measure, split

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

LINK = "https://desk.example/tickets/42"


def test_plain_text_is_gsm7_and_chinese_is_ucs2() -> None:
    assert measure("A" * 160) == measure("A" * 160)
    assert (measure("A" * 160).encoding, measure("A" * 160).segments) == ("gsm7", 1)
    assert measure("A" * 161).segments == 2
    assert measure("{" * 80).units == 160  # extension characters take two septets
    chinese = "您的工单已超时" * 10  # 70 characters
    assert (measure(chinese).encoding, measure(chinese).segments) == ("ucs2", 1)
    assert measure(chinese + "。").segments == 2


def test_a_long_chinese_alert_is_cut_and_still_ends_with_the_link() -> None:
    text = "客户等待回复已经超过十二小时，请尽快处理。" * 20 + " " + LINK
    out = fit(text, 2, LINK)
    assert out.endswith("… " + LINK)
    assert measure(out).segments <= 2 and measure(out).encoding == "ucs2"


def test_a_long_latin_alert_keeps_gsm7_when_cut() -> None:
    out = fit("Ticket overdue. " * 40 + LINK, 1, LINK)
    assert out.endswith("... " + LINK) and measure(out) .encoding == "gsm7" and len(out) <= 160


@given(st.text(min_size=0, max_size=1200), st.integers(min_value=1, max_value=4))
def test_fit_never_exceeds_the_allowed_parts(text: str, parts: int) -> None:
    assert measure(fit(text + " " + LINK, parts, LINK)).segments <= parts


@given(st.text(min_size=1, max_size=800))
def test_splitting_loses_nothing(text: str) -> None:
    pieces = split(text)
    assert "".join(pieces) == text
    assert len(pieces) == measure(text).segments


def test_inbound_webhooks_must_be_signed() -> None:
    body = b'{"from": "+8613800138000", "text": "ACK 1042"}'
    good = signed_headers("s3cret", body, NOW)
    sms = parse_inbound(body, "application/json", good, "https://x/api/v1/sms/inbound", "s3cret", None, NOW, ReplayGuard())
    assert sms.ack_number() == (True, 1042)
    import pytest

    from core.errors import NotAuthenticated

    with pytest.raises(NotAuthenticated):
        parse_inbound(body, "application/json", signed_headers("other", body, NOW), "u", "s3cret", None, NOW, ReplayGuard())
    with pytest.raises(NotAuthenticated):
        parse_inbound(body, "application/json", {}, "u", "s3cret", None, NOW, ReplayGuard())


def test_twilio_signed_form_posts_are_accepted() -> None:
    url = "https://desk.example/api/v1/sms/inbound"
    params = {"From": "+8613800138000", "Body": "ack", "To": "+15550001", "MessageSid": "SM1"}
    body = b"From=%2B8613800138000&Body=ack&To=%2B15550001&MessageSid=SM1"
    headers = {"X-Twilio-Signature": twilio_signature("tok", url, params)}
    sms = parse_inbound(body, "application/x-www-form-urlencoded", headers, url, None, "tok", NOW, ReplayGuard())
    assert sms == InboundSms("+8613800138000", "ack") and sms.ack_number() == (True, None)
    assert InboundSms("+1", "acknowledged?").ack_number() == (False, None)


async def test_without_concatenation_each_part_goes_as_its_own_sms() -> None:
    from alerts.delivery import SmsDelivery
    from alerts.sms.gateways import LogGateway
    from core.records import OutboxMessage

    gateway = LogGateway()
    delivery = SmsDelivery(gateway, None, None, concatenate=False)  # type: ignore[arg-type]
    text = "您的工单已超时，请尽快处理。" * 10  # 140 UCS-2 characters: three parts of 67
    await delivery.deliver(OutboxMessage(id=1, recipient="+8613800138000", body=text, dedup_key="sla:1"))
    assert [len(t) for _, t in gateway.sent] == [67, 67, 6]
    assert "".join(t for _, t in gateway.sent) == text
