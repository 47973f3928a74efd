"""Settings: one YAML file plus ``FRONTDESK_*`` environment overrides, validated.

Each package owns the model of its own section; this module composes them.
Environment variables override the file: ``FRONTDESK_DATABASE_URL``,
``FRONTDESK_WEB__PORT`` (``__`` steps into a section), ``FRONTDESK_PBX__0__SECRET``
(a number steps into the file's list, entry by entry).

The file may come from a careless or hostile hand: it is read with a size cap, its
YAML events are counted (nesting depth, and nodes with aliases expanded, so a
"billion laughs" file is refused before anything is built), and only plain YAML
types are constructed (``safe_load``: no ``!!python/...`` tags).
"""

from __future__ import annotations

import functools
import os
import zoneinfo
from pathlib import Path
from typing import Any

import phonenumbers
import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agent_ui.base.settings import WebSettings
from alerts.settings import SlaSettings
from channels.settings import MailboxSettings, SmtpSettings
from core.cluster_settings import ClusterSettings
from core.tier_worker import TierSettings
from cti.settings import PbxSettings
from integrations.settings import WebhookSettings
from routing.settings import RoutingSettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/frontdesk.db"
MAX_FILE_BYTES = 1_048_576
MAX_DEPTH = 32
MAX_NODES = 100_000  # scalars and collections, aliases counted as what they expand to


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(value: str) -> str:
    """An IANA zone name this machine knows (``Asia/Shanghai``), or ValueError."""
    if value not in _time_zones():
        raise ValueError("not a known IANA time zone (such as UTC or Asia/Shanghai)")
    return value


def check_phone_region(value: str) -> str:
    """A region phone numbers can be read in (``CN``, ``US``), or ValueError."""
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("not a region phone numbers can be read in (a two-letter code such as CN or US)")
    return value.upper()


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
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)  # type: ignore[arg-type]
    tiers: TierSettings = Field(default_factory=TierSettings)  # type: ignore[arg-type]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return check_phone_region(value)

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
        return (_EnvOverFile(settings_cls, env_settings, init_settings),)


class _EnvOverFile(PydanticBaseSettingsSource):
    """The file's values with the environment merged in, key by key and list entry by entry.

    pydantic-settings reads ``FRONTDESK_PBX__0__SECRET`` as ``{"pbx": {"0": {...}}}`` and
    would replace the file's whole ``pbx`` list with that mapping; here it sets one key of
    the file's first entry instead.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource, file: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self._env = env
        self._file = file

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything comes through __call__

    def __call__(self) -> dict[str, Any]:
        merged = merge_overrides(self._file(), self._env(), ())
        assert isinstance(merged, dict)
        return merged


def merge_overrides(base: Any, override: Any, path: tuple[Any, ...]) -> Any:
    """``override`` laid over ``base``: mappings key by key, a mapping of indexes over a list
    entry by entry; anything else replaces. An index the list does not have is a ConfigError."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge_overrides(base[key], value, (*path, key)) if key in base else value
        return merged
    if isinstance(override, dict) and (base is None or isinstance(base, list)) and override:
        if all(isinstance(k, str) and k.isdigit() for k in override):
            entries = list(base or [])
            for key, value in sorted(override.items(), key=lambda kv: int(kv[0])):
                index = int(key)
                if index < len(entries):
                    entries[index] = merge_overrides(entries[index], value, (*path, index))
                elif index == len(entries) and isinstance(value, dict):
                    entries.append(value)  # a new entry entirely from the environment
                else:
                    raise ConfigError([
                        f"{_key_path((*path, index))}: set from the environment, but the list has "
                        f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} (indexes count from 0)"
                    ])
            return entries
    return override


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
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; a configuration file is much smaller"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    try:
        _check_shape(text, path)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys to values"])
    odd = [repr(key) for key in data if not isinstance(key, str)]
    if odd:
        raise ConfigError([f"{path}: keys must be names, not {', '.join(odd[:5])}"])
    return data


def _check_shape(text: str, path: Path) -> None:
    """Walk the YAML events (no recursion, nothing built) and refuse deep nesting and
    documents that would grow past ``MAX_NODES`` once aliases are expanded."""
    expanded: dict[str, int] = {}  # anchor -> nodes it stands for
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes so far) per open collection
    total = 0

    def add(count: int) -> None:
        nonlocal total
        if open_nodes:
            anchor, so_far = open_nodes[-1]
            open_nodes[-1] = (anchor, so_far + count)
        else:
            total += count
        if total + sum(n for _, n in open_nodes) > MAX_NODES:
            raise ConfigError([f"{path}: too many values (over {MAX_NODES:,} with aliases expanded)"])

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise ConfigError([f"{path}: nested deeper than {MAX_DEPTH} levels"])
            open_nodes.append((event.anchor, 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, count = open_nodes.pop()
            if anchor is not None:
                expanded[anchor] = count
            add(count)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                expanded[event.anchor] = 1
            add(1)
        elif isinstance(event, yaml.AliasEvent):
            add(expanded.get(event.anchor or "", 1))


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read, merge and validate; raise ``ConfigError`` listing every problem."""
    data: dict[str, Any] = {}
    if path is None:
        path = os.environ.get("FRONTDESK_CONFIG") or None
    if path is not None:
        data = _read_yaml(Path(path))
    data.update(overrides)
    try:
        settings = Settings(**data)
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
    problems = _name_problems(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _name_problems(settings: Settings) -> list[str]:
    """Zone and region names inside the features' sections (their models accept any text), and
    what the cluster section cannot do with this database."""
    problems: list[str] = []
    checks = [(f"sla.calendars[{i}].timezone", c.timezone, check_time_zone)
              for i, c in enumerate(settings.sla.calendars) if c.timezone]
    checks += [(f"pbx[{i}].region", p.region, check_phone_region) for i, p in enumerate(settings.pbx)]
    for key, value, check in checks:
        try:
            check(value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
    problems += settings.cluster.problems(settings.database_url)
    return problems
