"""Outgoing mail: headers built from the outbox row, injection refused, SMTP answers classified."""

from __future__ import annotations

import pytest
from aiosmtplib.errors import (
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
)

from channels.outbox import PermanentFailure, TemporaryFailure
from channels.outgoing import tag_subject, ticket_number_in
from channels.settings import SmtpSettings
from channels.smtp import build_message, classify
from core.clock import ManualClock
from core.records import OutboxMessage, Ticket


def row(**fields: object) -> OutboxMessage:
    values: dict[str, object] = {"channel": "email", "recipient": "c@example.com", "subject": "Hi", "body": "Hello", "headers": {}, "payload": {}}
    values.update(fields)
    return OutboxMessage(**values)


def test_threading_headers_come_from_the_row_and_alerts_get_a_message_id() -> None:
    smtp = SmtpSettings(from_address="help@desk.example", from_name="Help")
    reply = build_message(row(headers={"Message-ID": "<r@desk.example>", "In-Reply-To": "<q@x>", "References": "<p@x> <q@x>",
                                       "X-Evil": "dropped"}), smtp, ManualClock())
    assert (reply["Message-ID"], reply["In-Reply-To"], reply["References"]) == ("<r@desk.example>", "<q@x>", "<p@x> <q@x>")
    assert reply["X-Evil"] is None and reply["X-Loop"] == "help@desk.example"
    alert = build_message(row(), smtp, ManualClock())  # an SLA alert email: no threading info at all
    assert alert["Message-ID"].endswith("@desk.example>") and alert["In-Reply-To"] is None


@pytest.mark.parametrize("field", ["subject", "recipient"])
def test_line_breaks_in_headers_are_refused_for_good(field: str) -> None:
    with pytest.raises(PermanentFailure):
        build_message(row(**{field: "x\r\nBcc: all@example.com"}), SmtpSettings(), ManualClock())


def test_smtp_answers_are_temporary_or_permanent() -> None:
    assert isinstance(classify(SMTPResponseException(451, "try later")), TemporaryFailure)
    assert isinstance(classify(SMTPResponseException(554, "rejected")), PermanentFailure)
    assert isinstance(classify(SMTPServerDisconnected("gone")), TemporaryFailure)
    assert isinstance(classify(ConnectionRefusedError()), TemporaryFailure)
    refused = SMTPRecipientsRefused([SMTPRecipientRefused(550, "no such user", "c@example.com")])
    assert isinstance(classify(refused), PermanentFailure)


def test_the_ticket_tag_is_added_once() -> None:
    ticket = Ticket(id=42)
    assert tag_subject("Re: Parcel", ticket) == "[#1042] Re: Parcel"
    assert tag_subject("Re: [#1042] Parcel", ticket) == "Re: [#1042] Parcel"
    assert ticket_number_in("Re: [#1042] and [#7]") == [1042, 7]
