import asyncio
import json
from pathlib import Path

import pytest
import yaml

from config.cli import main
from core.db import Database
from knowledge.records import ReplyTemplate


def test_rules_test_shows_the_decision_for_a_vip_caller(database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)
    assert main(["rules", "test", "--channel", "voice", "--tier", "vip"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["decision"]["queue"] == "phone"
    assert result["decision"]["priority"] == 2
    assert "VIP customers get a higher priority" in result["decision"]["rules"]
    assert result["decision"]["reasons"][0] == "rule 'VIP customers get a higher priority' v0: tier = vip"


def test_rules_test_gives_a_mail_its_top_suggested_template_as_the_ingest_does(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", database_url)

    async def add_template() -> None:
        db = Database(database_url)
        async with db.transaction() as session:
            session.add(ReplyTemplate(name="Invoice copy", category="billing", subject="s", body="b",
                                      keywords=[{"phrase": "invoice", "weight": 2.0}]))
        await db.close()

    asyncio.run(add_template())
    draft = tmp_path / "rules.yaml"
    draft.write_text(yaml.safe_dump({"rules": [{"name": "Billing mail", "groups": [{"conditions": [
        {"field": "template_category", "op": "in", "value": ["billing"]}]}], "actions": {"queue": "billing"}}]}))
    assert main(["rules", "test", "--subject", "Copy of my invoice", "--rules", str(draft)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["decision"]["queue"] == "billing"
    assert result["decision"]["reasons"][0] == "rule 'Billing mail' v1: template_category = billing"
