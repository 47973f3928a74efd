"""Settings of the mailboxes (IMAP in) and the SMTP sender."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from core.section import Section


class MailboxSettings(Section):
    name: str
    address: str = Field(description="the support address customers write to")
    host: str = "127.0.0.1"
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    password: SecretStr
    folder: str = "INBOX"
    processed_folder: str | None = None
    sent_folder: str | None = "Sent"
    poll_interval: float = Field(30.0, gt=0)
    acknowledge: bool = True


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["tls", "starttls", "plain"] = "plain"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "support@example.com"
    from_name: str = "Support"
