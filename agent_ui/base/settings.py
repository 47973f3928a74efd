"""Settings of the web server."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from agent_ui.base.client_address import parse_networks
from agent_ui.base.i18n import normalize_language, shipped_languages
from core.crm_links import check_template
from core.section import Section

MIN_WALLBOARD_TOKEN = 20


class WallboardSettings(Section):
    service_level_seconds: float = Field(
        20.0, gt=0, description="answered within this many seconds counts as in service level"
    )
    short_abandon_seconds: float = Field(
        5.0, ge=0, description="callers who hang up sooner are left out of the service level"
    )
    service_level_target: float = Field(0.8, ge=0, le=1, description="drawn as the target line on the chart")
    max_frames_per_second: float = Field(
        8.0, gt=0, le=20, description="per viewer; changes in between are coalesced (the window bounds the delay)"
    )


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    base_url: str = Field("", description="public URL used in links (alerts, emails); derived when empty")
    secret_key: SecretStr = Field(
        SecretStr(""), description="signs session cookies, customers' rating links and form tokens; at least 32 "
                                   "characters; when empty, a key made at the first start and kept in the database"
    )
    cookie_secure: bool = Field(
        False, description="set behind TLS; on by default when base_url is https://"
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger request bodies get 413")
    login_attempts_per_minute: int = Field(
        10, ge=1, description="failed logins allowed per client address and login each minute"
    )
    session_hours: int = Field(12, ge=1, le=24 * 30, description="how long a console login lasts")
    default_language: str = "en"
    wallboard_token: SecretStr | None = Field(None, description="read-only big-screen access: /wallboard?token=...")
    wallboard: WallboardSettings = Field(default_factory=WallboardSettings)  # type: ignore[arg-type]
    crm_url: str | None = Field(
        None, description="'open in CRM' link on the pop and customer page, e.g. "
                          "https://crm.example.com/contacts/{external_id} (shown when the customer has a CRM id); "
                          "{number} is the caller's number")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (addresses or CIDR) whose X-Forwarded-For names the client",
    )

    @property
    def public_url(self) -> str:
        """``base_url``, else the address this server listens on (a wildcard host read as
        localhost): what links in alerts and mails start with."""
        if self.base_url:
            return self.base_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @field_validator("crm_url")
    @classmethod
    def _crm_link(cls, value: str | None) -> str | None:
        return check_template(value) if value else None

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (or empty: a key is then made and kept in the database)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("default_language")
    @classmethod
    def _shipped(cls, value: str) -> str:
        shipped = shipped_languages()
        if normalize_language(value) not in shipped:
            raise ValueError(f"must be a language we ship: {', '.join(shipped)}")
        return normalize_language(value)

    @field_validator("wallboard_token")
    @classmethod
    def _hard_to_guess(cls, value: SecretStr | None) -> SecretStr | None:
        # The token alone opens the wallboard from any browser: it must not be guessable.
        if value is not None and len(value.get_secret_value()) < MIN_WALLBOARD_TOKEN:
            raise ValueError(f"must be at least {MIN_WALLBOARD_TOKEN} characters (or unset)")
        return value

    @model_validator(mode="after")
    def _secure_cookie_behind_https(self) -> WebSettings:
        # A site served over https must not send its session cookie over plain http;
        # an explicit cookie_secure (true or false) still wins.
        if "cookie_secure" not in self.model_fields_set and self.base_url.lower().startswith("https://"):
            self.cookie_secure = True
        return self
