"""Settings: one YAML file plus ``FRONTDESK_*`` environment overrides, validated.

Each package owns the model of its own section; this module composes them.
Environment variables override the file: ``FRONTDESK_DATABASE_URL``,
``FRONTDESK_WEB__PORT`` (``__`` steps into a section).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent_ui.settings import WebSettings
from alerts.settings import SlaSettings
from channels.settings import MailboxSettings, SmtpSettings
from cti.settings import PbxSettings
from routing.settings import RoutingSettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/frontdesk.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FRONTDESK_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    timezone: str = "UTC"
    phone_region: str = Field("US", description="default region for phone numbers without +")
    web: WebSettings = Field(default_factory=WebSettings)  # type: ignore[arg-type]
    routing: RoutingSettings = Field(default_factory=RoutingSettings)  # type: ignore[arg-type]
    pbx: list[PbxSettings] = Field(default_factory=list)
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)  # type: ignore[arg-type]
    sla: SlaSettings = Field(default_factory=SlaSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file, which arrives as init values.
        return env_settings, init_settings


class ConfigError(Exception):
    """Every problem found, each as ``key.path: reason`` — never the offending value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys to values"])
    return data


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read, merge and validate; raise ``ConfigError`` listing every problem."""
    data: dict[str, Any] = {}
    if path is None:
        path = os.environ.get("FRONTDESK_CONFIG") or None
    if path is not None:
        data = _read_yaml(Path(path))
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling and section)"
            elif err["type"] == "missing":
                msg = "is required but missing"
            problems.append(f"{_key_path(tuple(err['loc']))}: {msg}")
        raise ConfigError(problems) from None
