"""Settings of the mailboxes (IMAP in) and the SMTP sender."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from channels.addresses import has_line_separator, is_addr_spec
from core.section import Section


def _one_address(value: str) -> str:
    """Addresses we put in headers (From, X-Loop) and SMTP envelopes: one plain addr-spec."""
    if not is_addr_spec(value.strip()):
        raise ValueError(f"{value!r} is not one plain email address (name@example.com)")
    return value.strip()


def _one_line(value: str | None) -> str | None:
    if value is not None and has_line_separator(value):
        raise ValueError("line breaks are not allowed: this value goes into a mail header")
    return value

DEFAULT_ACK_SUBJECT = "[{{ ticket.tag }}] We received your message: {{ subject }}"
DEFAULT_ACK_BODY = (
    "Hello {{ customer.name or '' }},\n\n"
    "thank you for writing to us. Your message is now ticket {{ ticket.tag }}; "
    "please keep this number in the subject when you write about it again.\n\n"
    "{{ mailbox.name }} team\n"
)


class MailboxSettings(Section):
    name: str
    address: str = Field(description="the support address customers write to")
    host: str = "127.0.0.1"
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    ca_file: str | None = Field(
        None, description="PEM file of the CA that signed the server's certificate (a private CA); default: the system's CAs"
    )
    username: str
    password: SecretStr
    folder: str = "INBOX"
    processed_folder: str | None = Field(None, description="move imported mail here (after commit)")
    sent_folder: str | None = "Sent"
    poll_interval: float = Field(30.0, gt=0, description="seconds between polls when IDLE is not offered")
    idle: bool = Field(True, description="use IMAP IDLE when the server offers it")
    fetch: bool = Field(True, description="read this mailbox over IMAP; false for a send-only (or demo) mailbox")
    fetch_batch: int = Field(200, ge=1, le=5000, description="messages fetched and committed together")
    max_message_bytes: int = Field(25_000_000, ge=1024, description="larger mail is quarantined")
    acknowledge: bool = True
    acknowledgement_subject: str = Field(DEFAULT_ACK_SUBJECT, description="Jinja2 (sandboxed)")
    acknowledgement_body: str = Field(DEFAULT_ACK_BODY, description="Jinja2 (sandboxed)")
    auto_replies_per_day: int = Field(3, ge=0, description="cap of automatic replies per sender per 24 h")
    timeout: float = Field(30.0, gt=0, description="seconds an IMAP command may take")

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        return _one_address(value)


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "plain"
    ca_file: str | None = Field(
        None, description="PEM file of the CA that signed the server's certificate (a private CA); default: the system's CAs"
    )
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "support@example.com"
    from_name: str = "Support"
    message_id_domain: str | None = Field(None, description="domain of our Message-IDs (default: from_address's)")
    timeout: float = Field(30.0, gt=0)
    max_attachment_bytes: int = Field(
        10_000_000, ge=0, description="most bytes of files an agent may attach to one reply, all files together"
    )

    @field_validator("from_address")
    @classmethod
    def _check_from_address(cls, value: str) -> str:
        return _one_address(value)

    @field_validator("from_name", "message_id_domain")
    @classmethod
    def _check_one_line(cls, value: str | None) -> str | None:
        return _one_line(value)
