"""Settings of the web server."""

from __future__ import annotations

from pydantic import Field, SecretStr

from core.section import Section


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    base_url: str = Field("", description="public URL used in links (alerts, emails); derived when empty")
    secret_key: SecretStr = Field(
        SecretStr(""), description="signs session cookies; at least 32 characters; generated when empty"
    )
    cookie_secure: bool = Field(False, description="set behind TLS")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    login_attempts_per_minute: int = Field(10, ge=1)
    default_language: str = "en"
    wallboard_token: SecretStr | None = None
    crm_url: str | None = Field(None, description="external CRM page; {number} is the caller's number")
