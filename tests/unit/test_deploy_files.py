"""The ``deploy/`` folder cannot drift from the code it describes.

Every settings key and ``FRONTDESK_*`` variable named there exists in the settings model,
every ``frontdesk`` command named there parses with the real CLI parser (and a benchmark's
options appear in its module), the Compose file parses and starts three distinct instances,
every WebSocket route the server registers has a WebSocket location in the nginx files, and
the stop timeouts leave aiohttp its graceful-shutdown time. Reads files only: no server,
no database.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import re
import shlex
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from pydantic import BaseModel

from channels.settings import SmtpSettings
from config.cli import BENCHMARKS, build_parser
from config.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
README = DEPLOY / "README.md"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = DEPLOY / "systemd" / "frontdesk@.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "frontdesk.env.example"
NGINX_FILES = (DEPLOY / "nginx" / "frontdesk.conf", DEPLOY / "nginx" / "compose.conf")

# The cluster mode (issue 17) adds a ``cluster:`` section with ``instance_id``, ``backend``
# and ``redis_url``. Until the settings model has that section, keys under ``cluster.`` (and
# FRONTDESK_CLUSTER__* variables) named in deploy/ are not checked against the model; once it
# has one, they are checked like every other key, and the names below must exist in it.
HAS_CLUSTER = "cluster" in Settings.model_fields
CLUSTER_KEYS = ("cluster.instance_id", "cluster.backend", "cluster.redis_url")

# Misspellings the README shows on purpose, with what it says the loader does with them.
MISSPELT_REFUSED = "FRONTDESK_WEB__PROT"
MISSPELT_IGNORED = "FRONTDESK_DATABSE_URL"
# The one FRONTDESK_* variable that is not a settings key: the config file's path.
CONFIG_PATH_VARIABLE = "FRONTDESK_CONFIG"


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


# --- settings keys ---------------------------------------------------------------------


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model class inside an annotation (``X``, ``X | None``, ``list[X]``) and whether a
    list stands between: a number in a key path steps into it."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _model_of(arg)
    if origin is list:
        inner, _ = _model_of(typing.get_args(annotation)[0])
        return inner, True
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def key_exists(parts: list[str]) -> bool:
    """Whether ``web.secret_key`` (as ``["web", "secret_key"]``; ``pbx.0.secret`` for a list
    entry) names a field of the settings model; a path ending at a section counts."""
    model: type[BaseModel] | None = Settings
    in_list = False
    for part in parts:
        if in_list and part.isdigit():
            in_list = False
            continue
        if model is None or in_list or part not in model.model_fields:
            return False
        model, in_list = _model_of(model.model_fields[part].annotation)
    return True


def checked(parts: list[str]) -> bool:
    # Skipped only while main has no cluster section (see HAS_CLUSTER above).
    return HAS_CLUSTER or parts[0] != "cluster"


def named_variables() -> set[str]:
    found: set[str] = set()
    for path in deploy_files():
        found |= set(re.findall(r"\bFRONTDESK_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    return found


def named_keys() -> set[str]:
    """Dotted keys (``web.base_url``) and top-level names in code spans, wherever their first
    part is a section of the settings (or ``cluster``)."""
    sections = set(Settings.model_fields) | {"cluster"}
    found: set[str] = set()
    for path in deploy_files():
        text = path.read_text()
        for match in re.finditer(r"(?<![\w/.-])([a-z_]+)((?:\.[a-z_]+)+)(?![\w/-])", text):
            if match.group(1) in sections:
                found.add(match.group(0))
        for match in re.finditer(r"`([a-z_]+)`", text):
            if match.group(1) in Settings.model_fields:
                found.add(match.group(1))
    return found


def test_every_variable_named_in_deploy_is_a_setting() -> None:
    variables = named_variables() - {MISSPELT_REFUSED, MISSPELT_IGNORED, CONFIG_PATH_VARIABLE}
    assert {"FRONTDESK_DATABASE_URL", "FRONTDESK_WEB__SECRET_KEY"} <= variables
    unknown = []
    for name in sorted(variables):
        parts = name.removeprefix("FRONTDESK_").lower().split("__")
        if checked(parts) and not key_exists(parts):
            unknown.append(name)
    assert unknown == [], f"deploy/ names variables the settings do not have: {unknown}"
    assert CONFIG_PATH_VARIABLE in (ROOT / "config" / "settings.py").read_text()


def test_every_key_named_in_deploy_is_a_setting() -> None:
    keys = named_keys()
    assert {"web.secret_key", "web.base_url", "database_url"} <= keys
    unknown = sorted(k for k in keys if checked(k.split(".")) and not key_exists(k.split(".")))
    assert unknown == [], f"deploy/ names settings keys that do not exist: {unknown}"


@pytest.mark.skipif(not HAS_CLUSTER, reason="the settings have no cluster section yet (issue 17)")
def test_cluster_keys_are_the_ones_deploy_names() -> None:
    assert [k for k in CLUSTER_KEYS if not key_exists(k.split("."))] == []


def test_key_check_can_fail() -> None:
    assert key_exists(["pbx", "0", "secret"]) and key_exists(["web", "wallboard"])
    assert not key_exists(["web", "prot"]) and not key_exists(["pbx", "secret"])
    assert not key_exists(["databse_url"])


def test_the_readme_is_right_about_misspelt_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    assert MISSPELT_REFUSED in text and MISSPELT_IGNORED in text
    monkeypatch.setenv(MISSPELT_REFUSED, "1")
    with pytest.raises(ConfigError, match=r"web\.prot"):
        load_settings(None)
    monkeypatch.delenv(MISSPELT_REFUSED)
    monkeypatch.setenv(MISSPELT_IGNORED, "sqlite+aiosqlite:///nowhere.db")
    load_settings(None)


def _without_cluster(data: dict[str, Any]) -> dict[str, Any]:
    return data if HAS_CLUSTER else {k: v for k, v in data.items() if k != "cluster"}


def test_the_shared_config_file_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDESK_CONFIG", raising=False)
    data = yaml.safe_load((DEPLOY / "frontdesk.yaml").read_text())
    assert "cluster" in data
    copy = tmp_path / "frontdesk.yaml"
    copy.write_text(yaml.safe_dump(_without_cluster(data)))
    settings = load_settings(copy)
    assert settings.database_url.startswith("postgresql+asyncpg://")


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key == key.strip() and " " not in value, f"not KEY=value: {line!r}"
            pairs[key] = value
    return pairs


def test_the_env_example_is_valid_but_for_its_secret_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example is refused as it stands, and only for the secret key it asks to replace."""
    monkeypatch.delenv("FRONTDESK_CONFIG", raising=False)
    pairs = env_file(ENV_EXAMPLE)
    assert "FRONTDESK_WEB__SECRET_KEY" in pairs
    for key, value in pairs.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as refused:
        load_settings(None)
    assert [p.split(":")[0] for p in refused.value.problems] == ["web.secret_key"]
    monkeypatch.setenv("FRONTDESK_WEB__SECRET_KEY", "x" * 48)
    assert load_settings(None).database_url == pairs["FRONTDESK_DATABASE_URL"]


# --- commands --------------------------------------------------------------------------

STOP_TOKENS = {">", ">>", "2>&1", "&", "&&", "|", ";", "<"}


def _command(tokens: list[str]) -> list[str] | None:
    """The frontdesk arguments of one shell command, if it runs frontdesk (``frontdesk``,
    ``.venv/bin/frontdesk`` or the README's ``fd`` function)."""
    while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", tokens[0]):
        tokens = tokens[1:]
    if not tokens or not (tokens[0] in ("frontdesk", "fd") or tokens[0].endswith("/bin/frontdesk")):
        return None
    args = []
    for token in tokens[1:]:
        if token in STOP_TOKENS:
            break
        args.append(token)
    return args


def readme_commands() -> Iterator[list[str]]:
    text = README.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    for line in lines:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        args = _command(tokens)
        if args:  # a bare `frontdesk` in the prose names the program, not a command
            yield args


def image_commands() -> Iterator[list[str]]:
    """The frontdesk commands the unit, the Compose file and the image run."""
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecStart="):
            args = _command(shlex.split(line.removeprefix("ExecStart=").replace("%i", "8081")))
            assert args is not None
            yield args
    compose = yaml.safe_load(COMPOSE.read_text())
    for service in compose["services"].values():
        if service.get("image", "").startswith("frontdesk:") and "command" in service:
            yield list(service["command"])
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), flags=re.M)
    assert cmd is not None
    yield list(yaml.safe_load(cmd.group(1)))


def check_parses(args: list[str]) -> None:
    parsed, rest = build_parser().parse_known_args(args)  # SystemExit on a wrong command
    if not getattr(parsed, "delegates", False):
        assert rest == [], f"frontdesk {shlex.join(args)}: unknown {rest}"
    elif parsed.command == "bench":
        # A benchmark parses its own options: each one named must be in its module.
        spec = importlib.util.find_spec(BENCHMARKS[parsed.name])
        assert spec is not None and spec.origin is not None
        source = Path(spec.origin).read_text()
        missing = [o for o in rest if o.startswith("--") and f'"{o}"' not in source]
        assert missing == [], f"frontdesk {shlex.join(args)}: {missing} not in {spec.origin}"


def test_commands_in_the_readme_exist() -> None:
    commands = list(readme_commands())
    names = {args[0] for args in commands if args}
    assert {"check-config", "migrate", "serve", "user", "bench"} <= names, names
    for args in commands:
        try:
            check_parses(args)
        except SystemExit:
            pytest.fail(f"deploy/README.md names a command the CLI refuses: frontdesk {shlex.join(args)}")


def test_commands_the_unit_and_images_run_exist() -> None:
    commands = list(image_commands())
    assert [c[0] for c in commands].count("serve") == 2 and ["migrate"] in commands
    for args in commands:
        check_parses(args)


def test_a_wrong_command_is_caught() -> None:
    with pytest.raises(SystemExit):
        check_parses(["serv"])
    with pytest.raises(AssertionError):
        check_parses(["serve", "--workers", "4"])
    with pytest.raises(AssertionError):
        check_parses(["bench", "ami", "--no-such-option"])


# --- compose ---------------------------------------------------------------------------


def test_compose_starts_postgres_three_instances_and_nginx() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    instances = {n: s for n, s in services.items() if n.startswith("frontdesk-")}
    assert len(instances) == 3 and "postgres" in services and "nginx" in services
    envs = [s["environment"] for s in instances.values()]
    ids = {e["FRONTDESK_CLUSTER__INSTANCE_ID"] for e in envs}
    assert len(ids) == 3, "each instance needs its own id"
    for shared in ("FRONTDESK_DATABASE_URL", "FRONTDESK_WEB__SECRET_KEY", "FRONTDESK_CLUSTER__BACKEND"):
        assert len({e[shared] for e in envs}) == 1, f"{shared} must be the same on every instance"
    for name, service in services.items():
        image = service.get("image", "")
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert re.fullmatch(r"\d+(\.\d+)+(-[a-z0-9.]+)?", tag), f"{name}: pin the image version ({image!r})"
    for service in instances.values():
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        for volume in service.get("volumes", []):
            assert (DEPLOY / volume.split(":")[0]).is_file()
    nginx_volume = services["nginx"]["volumes"][0].split(":")[0]
    upstream = re.findall(r"^\s*server\s+([\w.-]+):\d+", (DEPLOY / nginx_volume).read_text(), flags=re.M)
    assert sorted(upstream) == sorted(instances), "nginx's upstream lists every instance"


# --- nginx and stopping ----------------------------------------------------------------


@functools.cache
def websocket_routes() -> frozenset[str]:
    """Paths whose handler answers with a ``WebSocketResponse`` (read from agent_ui's source)."""
    trees = [ast.parse(path.read_text()) for path in (ROOT / "agent_ui").rglob("*.py")]
    # A handler and the line routing to it may be in different modules (live/socket.py, live/__init__.py).
    handlers = {
        node.name for tree in trees for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and any(
            isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute | ast.Name)
            and getattr(call.func, "attr", getattr(call.func, "id", "")) == "WebSocketResponse"
            for call in ast.walk(node))
    }
    routes: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_get" and len(node.args) == 2
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[1], ast.Name)
                    and node.args[1].id in handlers):
                routes.add(str(node.args[0].value))
    return frozenset(routes)


def locations(conf: str) -> list[tuple[str, str, str]]:
    """(modifier, pattern, body) of each location block."""
    found = []
    for match in re.finditer(r"location\s+(=|~\*?|\^~)?\s*(\S+)\s*\{", conf):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(conf[end], 0)
            end += 1
        found.append((match.group(1) or "", match.group(2), conf[match.end():end - 1]))
    return found


def chosen_location(conf: str, path: str) -> str:
    """The body of the location nginx picks for ``path`` (exact, then regex, then prefix)."""
    blocks = locations(conf)
    for modifier, pattern, body in blocks:
        if modifier == "=" and pattern == path:
            return body
    for modifier, pattern, body in blocks:
        if modifier.startswith("~") and re.search(pattern, path, flags=re.I if "*" in modifier else 0):
            return body
    prefixes = [(pattern, body) for modifier, pattern, body in blocks if modifier in ("", "^~") and path.startswith(pattern)]
    return max(prefixes, key=lambda pb: len(pb[0]))[1]


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[unit]


@pytest.mark.parametrize("conf_path", NGINX_FILES, ids=lambda p: p.name)
def test_nginx_carries_every_websocket_route(conf_path: Path) -> None:
    routes = websocket_routes()
    assert {"/ws", "/wallboard/ws"} <= routes
    conf = conf_path.read_text()
    connection_map = re.search(r"map \$http_upgrade \$(\w+) \{[^}]*default\s+upgrade;", conf)
    assert connection_map, "the Connection header must become 'upgrade' on a handshake"
    for route in sorted(routes):
        body = chosen_location(conf, route)
        assert "proxy_set_header Upgrade $http_upgrade;" in body, route
        assert f"proxy_set_header Connection ${connection_map.group(1)};" in body, route
        assert "proxy_http_version 1.1;" in body, route
        assert "proxy_set_header Host $http_host;" in body, f"{route}: the Origin check compares with Host"
        timeout = re.search(r"proxy_read_timeout\s+(\w+);", body)
        assert timeout and seconds(timeout.group(1)) > 30, f"{route}: longer than the server's 30 s ping"
    assert "proxy_set_header Host" in chosen_location(conf, "/login")
    body_size = re.search(r"client_max_body_size\s+(\d+)m;", conf)
    assert body_size and int(body_size.group(1)) * 1_048_576 > SmtpSettings().max_attachment_bytes


def test_a_missing_websocket_location_is_caught() -> None:
    conf = "location / { proxy_pass http://frontdesk; }"
    assert "Upgrade" not in chosen_location(conf, "/ws")


def test_stopping_leaves_aiohttp_its_graceful_shutdown() -> None:
    graceful = inspect.signature(web.run_app).parameters["shutdown_timeout"].default
    unit = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                if "=" in line and not line.startswith("#") and not line.startswith("Environment"))
    assert unit["KillSignal"] == "SIGTERM" and unit["Restart"] == "on-failure"
    assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict"
    assert seconds(unit["TimeoutStopSec"]) > graceful
    compose = yaml.safe_load(COMPOSE.read_text())
    instance = compose["services"]["frontdesk-1"]
    assert instance["stop_signal"] == "SIGTERM" and seconds(instance["stop_grace_period"]) > graceful
