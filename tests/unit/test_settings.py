from pathlib import Path

import pytest

from config.cli import main
from config.settings import ConfigError, load_settings


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "frontdesk.yaml"
    cfg.write_text("web:\n  port: 9000\nlog_level: DEBUG\n")
    monkeypatch.setenv("FRONTDESK_WEB__PORT", "9100")
    settings = load_settings(cfg)
    assert settings.web.port == 9100
    assert settings.log_level == "DEBUG"


def test_every_problem_is_reported_with_its_key_path_and_no_secret(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "web:\n  port: 70000\n  prot: 1\n"
        "pbx:\n  - host: 127.0.0.1\n    secret: hunter2-very-secret\n    port: nope\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    text = str(err.value)
    assert "web.port:" in text
    assert "web.prot: unknown key" in text
    assert "pbx[0].username: is required but missing" in text
    assert "pbx[0].port:" in text
    assert "hunter2" not in text


def test_check_config_exits_non_zero_on_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("web: [not, a, mapping]\n")
    assert main(["check-config", str(cfg)]) == 2
    assert "web:" in capsys.readouterr().err


def test_check_config_reports_broken_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("web:\n  port: [\n")
    assert main(["check-config", str(cfg)]) == 2
    assert "not valid YAML at line" in capsys.readouterr().err


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "frontdesk.example.yaml"
    assert main(["check-config", str(example)]) == 0


def test_links_start_with_the_public_url_or_where_the_server_listens() -> None:
    from agent_ui.base.settings import WebSettings

    assert WebSettings.model_validate({"base_url": "https://support.example.com/"}).public_url == "https://support.example.com"
    assert WebSettings.model_validate({"host": "0.0.0.0", "port": 8097}).public_url == "http://localhost:8097"
    assert WebSettings.model_validate({"host": "10.0.0.5", "port": 9000}).public_url == "http://10.0.0.5:9000"
