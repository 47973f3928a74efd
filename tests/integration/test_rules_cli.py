import json

import pytest

from config.cli import main


def test_rules_test_shows_the_decision_for_a_vip_caller(database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)
    assert main(["rules", "test", "--channel", "voice", "--tier", "vip"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["decision"]["queue"] == "phone"
    assert result["decision"]["priority"] == 2
    assert "VIP customers get a higher priority" in result["decision"]["rules"]
    assert result["decision"]["reasons"][0] == "rule 'VIP customers get a higher priority' v0: tier = vip"
