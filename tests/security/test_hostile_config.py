"""Configuration files from a careless or hostile hand: every one gets a clear error listing
key paths — never a crash, never code execution, never unbounded time or memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from config.cli import build_parser, main
from config.demo import demo_settings
from config.settings import ConfigError, load_settings

GOOD_PBX = "pbx:\n  - name: main\n    host: 10.0.0.5\n    username: frontdesk\n    secret: from-file\n"


def check(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``frontdesk check-config`` on the text; it must refuse it, quickly, with a message."""
    cfg = tmp_path / "frontdesk.yaml"
    if isinstance(text, bytes):
        cfg.write_bytes(text)
    else:
        cfg.write_text(text, encoding="utf-8")
    started = time.monotonic()
    assert main(["check-config", str(cfg)]) == 2
    assert time.monotonic() - started < 5.0
    err = capsys.readouterr().err
    assert "problem" in err and "Traceback" not in err
    return err


def test_a_billion_laughs_file_is_refused_before_it_is_expanded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(ord("b"), ord("j")):
        prev = chr(i - 1)
        lines.append(f"{chr(i)}: &{chr(i)} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("pbx: *i")
    assert "too many values" in check(tmp_path, "\n".join(lines) + "\n", capsys)


def test_python_object_tags_are_never_executed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    text = f"log_level: !!python/object/apply:os.system ['touch {marker}']\n"
    assert "not valid YAML" in check(tmp_path, text, capsys)
    text = f"web: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n"
    assert "not valid YAML" in check(tmp_path, text, capsys)
    assert not marker.exists()


def test_huge_and_deeply_nested_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "larger than" in check(tmp_path, "# " + "x" * 2_000_000 + "\n", capsys)
    assert "nested deeper" in check(tmp_path, "web: " + "[" * 50_000 + "]" * 50_000 + "\n", capsys)
    assert "nested deeper" in check(tmp_path, "".join(f"{'  ' * i}k{i}:\n" for i in range(200)), capsys)
    assert "not UTF-8" in check(tmp_path, b"log_level: \xff\xfe\n", capsys)


def test_wrong_types_and_odd_keys_name_their_key_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = check(tmp_path, "web:\n  port: [1, 2]\n  session_hours: 1e999\npbx: {name: x}\nsmtp: 7\n", capsys)
    assert "web.port:" in err and "web.session_hours:" in err and "pbx:" in err and "smtp:" in err
    assert "keys must be names" in check(tmp_path, "1: x\ntrue: y\n", capsys)
    assert "not valid YAML" in check(tmp_path, "? [a, b]\n: c\n", capsys)  # an unhashable key
    assert "top level must be a mapping" in check(tmp_path, "- just\n- a list\n", capsys)


def test_unknown_time_zone_region_and_language_are_refused_with_key_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "timezone: Mars/Olympus\nphone_region: ZZ\nweb:\n  default_language: xx_YY\n"
        "sla:\n  calendars:\n    - name: office\n      timezone: ../../etc/passwd\n"
    )
    err = check(tmp_path, text, capsys)
    assert "timezone: Value error, not a known IANA time zone" in err
    assert "phone_region: Value error, not a region" in err
    assert "web.default_language: Value error, must be a language we ship: en, es, zh_CN" in err
    # Fixing the top-level names shows the calendar's zone is wrong too.
    err = check(tmp_path, text.replace("Mars/Olympus", "Asia/Shanghai").replace("ZZ", "CN").replace("xx_YY", "zh_CN"), capsys)
    assert "sla.calendars[0].timezone: not a known IANA time zone" in err
    settings = load_settings(None, timezone="Asia/Shanghai", phone_region="cn", web={"default_language": "zh-CN"})
    assert (settings.phone_region, settings.web.default_language) == ("CN", "zh_CN")


def test_a_short_wallboard_token_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = check(tmp_path, "web:\n  wallboard_token: tv123\n", capsys)
    assert "web.wallboard_token: Value error, must be at least 20 characters" in err and "tv123" not in err
    assert load_settings(None, web={"wallboard_token": "t" * 20}).web.wallboard_token is not None


def test_cookie_secure_follows_an_https_base_url_unless_set(tmp_path: Path) -> None:
    assert load_settings(None, web={"base_url": "https://support.example.com"}).web.cookie_secure is True
    assert load_settings(None, web={"base_url": "http://10.0.0.5:8080"}).web.cookie_secure is False
    explicit = load_settings(None, web={"base_url": "https://support.example.com", "cookie_secure": False})
    assert explicit.web.cookie_secure is False


def test_a_pbx_entry_is_overridden_from_the_environment_by_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "f.yaml"
    cfg.write_text(GOOD_PBX + "web:\n  port: 9000\n")
    monkeypatch.setenv("FRONTDESK_PBX__0__SECRET", "from-env")
    monkeypatch.setenv("FRONTDESK_PBX__0__PORT", "5039")
    assert main(["check-config", str(cfg)]) == 0, capsys.readouterr().err
    settings = load_settings(cfg)
    assert len(settings.pbx) == 1
    pbx = settings.pbx[0]
    assert (pbx.name, pbx.host, pbx.username, pbx.port) == ("main", "10.0.0.5", "frontdesk", 5039)
    assert pbx.secret.get_secret_value() == "from-env"
    assert settings.web.port == 9000
    # An entry the file does not have is named, not silently invented from one key.
    monkeypatch.setenv("FRONTDESK_PBX__3__SECRET", "x")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "pbx[3]: set from the environment, but the list has 1 entry" in str(err.value)


def test_the_demo_uses_the_config_files_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDESK_CONFIG", raising=False)
    monkeypatch.delenv("FRONTDESK_DATABASE_URL", raising=False)
    cfg = tmp_path / "f.yaml"
    url = f"sqlite+aiosqlite:///{tmp_path}/mine.db"
    cfg.write_text(f"database_url: {url}\n")
    parser = build_parser()
    assert demo_settings(parser.parse_args(["-c", str(cfg), "demo"])).database_url == url
    other = f"sqlite+aiosqlite:///{tmp_path}/other.db"
    assert demo_settings(parser.parse_args(["-c", str(cfg), "demo", "--database", other])).database_url == other
    assert demo_settings(parser.parse_args(["demo"])).database_url == "sqlite+aiosqlite:///var/demo.db"
