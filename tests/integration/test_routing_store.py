"""Rules in the database: versions with author and diff, restore, YAML, validation, replay and the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agent_ui.base.i18n import system_localizer
from alerts.calendar import WEEKDAYS
from alerts.records import SlaCalendar
from config.cli import main
from config.services import Services
from core.auth import Actor
from core.customers import CustomerDraft, create_customer
from core.errors import Conflict, Forbidden, InvalidInput
from core.records import Customer, EntryKind, Ticket, TimelineEntry
from core.users import add_user
from routing import Contact, RuleEngine, RulesPolicy, parse_rules, replay
from routing.records import RoutedContact, RuleVersion
from routing.replay import replay_draft
from routing.store import describe_diff, export_yaml, parse_yaml

VIP_REFUNDS: dict[str, Any] = {
    "name": "VIP refunds",
    "groups": [{"mode": "all", "conditions": [{"field": "tier", "op": "in", "value": ["vip"]},
                                               {"field": "keywords", "op": "contains_any", "value": ["refund", "退款"]}]}],
    "actions": {"queue": "billing", "priority": "urgent", "strategy": "round_robin", "skill": "billing"},
}


@pytest.fixture
async def people(services: Services) -> dict[str, Actor]:
    async with services.db.transaction() as session:
        otto = await add_user(session, "otto", "pw-123456789", "Otto", ["ops"])
        alice = await add_user(session, "alice", "pw-123456789", "Alice", ["agent"])
        vip = await create_customer(session, Actor.system(), CustomerDraft(name="Zhang", tier="vip", emails=["zhang@example.com"]))
        std = await create_customer(session, Actor.system(), CustomerDraft(name="Li", emails=["li@example.com"]))
        return {"ops": Actor.of(otto), "agent": Actor.of(alice), "vip": vip.id, "std": std.id}  # type: ignore[dict-item]


def _policy(services: Services) -> RulesPolicy:
    policy = services.desk.policy
    assert isinstance(policy, RulesPolicy)
    return policy


async def _versions(services: Services) -> int:
    async with services.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(RuleVersion))).scalar_one())


async def test_bad_rules_are_refused_whole_with_the_field_named(services: Services, people: dict[str, Any]) -> None:
    store = _policy(services).store
    good = _policy(services).engine.rule_set.model_dump(exclude_none=True)["rules"]
    bad = [*good, {"name": "Broken", "groups": [{"conditions": [{"field": "mood", "op": "in", "value": ["angry"]}]}],
                   "actions": {"queue": "x"}}]
    async with services.db.session() as session:
        with pytest.raises(InvalidInput) as caught:
            await store.save(session, people["ops"], {"rules": bad})
        await session.commit()
    assert caught.value.details["errors"][0]["field"] == f"rules.{len(good)}.groups.0.conditions.0"
    assert "unknown field 'mood'" in caught.value.details["errors"][0]["message"]
    async with services.db.session() as session:
        with pytest.raises(Forbidden):
            await store.save(session, people["agent"], {"rules": good})
    assert await _versions(services) == 0


async def test_every_save_is_a_version_with_author_and_diff_and_any_can_be_restored(services: Services, people: dict[str, Any]) -> None:
    policy = _policy(services)
    defaults = policy.engine.rule_set.model_dump(exclude_none=True)["rules"]
    async with services.db.transaction() as session:
        v1 = await policy.store.save(session, people["ops"], {"rules": [VIP_REFUNDS, *defaults]}, note="billing")
    changed = dict(VIP_REFUNDS, actions={**VIP_REFUNDS["actions"], "queue": "refunds"})
    async with services.db.transaction() as session:
        v2 = await policy.store.save(session, people["ops"], {"rules": [changed, *defaults[1:]]}, based_on=1)
    assert (v1.version, v2.version, v1.author_id) == (1, 2, people["ops"].user_id)
    assert v1.diff.startswith("+ rule 'VIP refunds' added at position 1")
    assert "~ rule 'VIP refunds': actions.queue billing → refunds" in v2.diff
    assert f"- rule '{defaults[0]['name']}' removed" in v2.diff
    async with services.db.session() as session:
        with pytest.raises(Conflict):
            await policy.store.save(session, people["ops"], {"rules": defaults}, based_on=1)
    async with services.db.transaction() as session:
        v3 = await policy.store.restore(session, people["ops"], 1)
    assert v3.version == 3 and v3.rules == v1.rules and v3.note == "restored version 1"
    assert v3.restored_from == 1
    # A note someone typed that reads like a restore's is theirs, shown as typed in every language.
    async with services.db.transaction() as session:
        await policy.store.save(session, people["ops"], {"rules": defaults}, note="restored version 2")
    chinese = system_localizer().translations("zh_CN").gettext
    async with services.db.session() as session:
        history = {v["version"]: v["note"] for v in await policy.store.readable_history(session, people["ops"], chinese)}
    assert history[4] == "restored version 2"
    assert history[3] != "restored version 1" and "1" in history[3]  # the restore's own note, in Chinese


async def test_a_saved_rule_routes_the_next_mail_and_its_timeline_names_rule_and_version(services: Services, people: dict[str, Any]) -> None:
    policy = _policy(services)
    defaults = policy.engine.rule_set.model_dump(exclude_none=True)["rules"]
    async with services.db.transaction() as session:
        await policy.store.save(session, people["ops"], {"rules": [*defaults, VIP_REFUNDS]})
    async with services.db.session() as session:
        assert await policy.refresh(session) and policy.engine.version == 1
        accepted = await services.desk.accept(session, Contact("email", people["vip"], customer_tier="vip", subject="我要退款"),
                                              EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)
    assert (accepted.ticket.queue, accepted.ticket.priority) == ("billing", 3)
    async with services.db.session() as session:
        entry = (await session.execute(select(TimelineEntry).where(TimelineEntry.ticket_id == accepted.ticket.id))).scalars().one()
    assert entry.payload["routing"]["rule"] == "VIP refunds" and entry.payload["routing"]["version"] == 1
    assert "rule 'VIP refunds' v1: tier = vip and keyword 退款" in entry.payload["routing"]["why"]


def test_yaml_export_and_import_round_trip() -> None:
    original = parse_rules([VIP_REFUNDS, {**VIP_REFUNDS, "name": "中文 规则", "enabled": False}]).model_dump(exclude_none=True)["rules"]
    text = export_yaml(4, original)
    assert text.startswith("# Frontdesk routing rules, version 4") and "中文 规则" in text
    assert parse_yaml(text).model_dump(exclude_none=True)["rules"] == original
    with pytest.raises(InvalidInput, match="not valid YAML"):
        parse_yaml("rules: [")
    assert describe_diff(original, original) == "no change"


async def _mail(services: Services, customer: int, tier: str, subject: str) -> None:
    async with services.db.session() as session:
        await services.desk.accept(session, Contact("email", customer, customer_tier=tier, subject=subject), EntryKind.EMAIL_IN, {})
        await services.desk.commit_and_publish(session)


async def _counts(services: Services) -> tuple[int, int, int]:
    async with services.db.session() as session:
        return tuple([int((await session.execute(select(func.count()).select_from(t))).scalar_one())  # type: ignore[return-value]
                      for t in (Ticket, RoutedContact, RuleVersion)])


async def test_replay_shows_what_a_draft_would_move_and_writes_nothing(services: Services, people: dict[str, Any]) -> None:
    for customer, tier, subject in [(people["vip"], "vip", "Refund for order 7"), (people["vip"], "vip", "Password help"),
                                    (people["std"], "standard", "Refund please"), (people["vip"], "vip", "退款")]:
        await _mail(services, customer, tier, subject)
    policy = _policy(services)
    before = await _counts(services)
    draft = [*policy.engine.rule_set.model_dump(exclude_none=True)["rules"], VIP_REFUNDS]
    engine = RuleEngine(parse_rules(draft), 1, services.settings.routing)
    result = (await replay_draft(services.db, engine, policy.engine, 7, services.clock.now())).as_dict()
    assert await _counts(services) == before
    assert (result["contacts"], result["moved"]) == (4, 2)
    queues = {q["value"]: (q["before"], q["after"]) for q in result["queues"]}
    assert queues == {"email": (4, 2), "billing": (0, 2)}
    assert sorted(e["subject"] for e in result["examples"]) == ["Refund for order 7", "退款"]
    assert result["examples"][0]["after"] == {"queue": "billing", "priority": "urgent", "assignee": "unassigned"}


async def test_a_replay_split_over_worker_processes_equals_one_in_this_process(
        services: Services, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A big replay is decided in worker processes, in runs of whole batches; the result is the same."""
    for n in range(7):
        customer, tier = (people["vip"], "vip") if n % 2 else (people["std"], "standard")
        await _mail(services, customer, tier, ["Refund for order 7", "退款", "Password help"][n % 3] + f" #{n}")
    policy = _policy(services)
    engine = RuleEngine(parse_rules([*policy.engine.rule_set.model_dump(exclude_none=True)["rules"], VIP_REFUNDS]), 1,
                        services.settings.routing)
    here = (await replay_draft(services.db, engine, policy.engine, 7, services.clock.now())).as_dict()
    monkeypatch.setattr(replay, "PARALLEL_FROM", 1)
    monkeypatch.setattr(replay, "WORKERS", 2)
    monkeypatch.setattr(replay, "BATCH", 2)  # shards of 2 contacts: several, merged in order
    split = await replay_draft(services.db, engine, policy.engine, 7, services.clock.now())
    assert split.worker_cpu_s > 0  # decided by the workers
    assert split.as_dict() == here and here["moved"] == 2  # the VIP refund mails


async def test_rules_read_the_customers_tags_and_language_whether_the_session_holds_the_customer_or_not(services: Services) -> None:
    async with services.db.transaction() as session:
        wang = await create_customer(session, Actor.system(), CustomerDraft(name="Wang", language="zh", tags=["Reseller"], emails=["w@example.com"]))
    rule = {"name": "Chinese resellers", "groups": [{"mode": "all", "conditions": [
        {"field": "customer_tag", "op": "in", "value": ["reseller"]}, {"field": "language", "op": "in", "value": ["zh"]}]}],
        "actions": {"queue": "partners"}}
    engine = RuleEngine(parse_rules([rule]), 1, services.settings.routing)
    contact = Contact("email", wang.id, subject="hello")
    async with services.db.session() as session:
        fetched = await engine.decide(session, contact, services.clock.now())  # not held: read
        held = await session.get(Customer, wang.id)
        from_map = await engine.decide(session, contact, services.clock.now())  # held: from the identity map
        assert held is not None
        session.expire(held)
        expired = await engine.decide(session, contact, services.clock.now())  # held but expired: read again
    assert fetched.queue == from_map.queue == expired.queue == "partners"
    assert fetched == from_map == expired


async def test_the_cli_imports_exports_and_tests_with_the_engine_production_uses(
    services: Services, people: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", services.settings.database_url)
    draft = tmp_path / "rules.yaml"
    draft.write_text(export_yaml(0, [*_policy(services).engine.rule_set.model_dump(exclude_none=True)["rules"], VIP_REFUNDS]), encoding="utf-8")
    assert await _run_cli(["rules", "import", str(draft)]) == 0
    saved = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert saved["version"] == 1 and "+ rule 'VIP refunds'" in saved["diff"]
    async with services.db.session() as session:
        await _policy(services).refresh(session)
    for customer, tier, subject in [(people["vip"], "vip", "Refund for order 7"), (people["std"], "standard", "Refund please")]:
        await _mail(services, customer, tier, subject)
    assert await _run_cli(["rules", "test", "--recent", "2"]) == 0
    tested = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    async with services.db.session() as session:
        production = list((await session.execute(select(RoutedContact).order_by(RoutedContact.id.desc()))).scalars())
    assert [(t["decision"]["queue"], t["decision"]["priority"], t["decision"]["matched_rule"]) for t in tested] == [
        (p.queue, p.priority, p.rule) for p in production]
    assert await _run_cli(["rules", "export"]) == 0
    assert parse_yaml(capsys.readouterr().out).rules[-1].name == "VIP refunds"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n- name: x\n  groups: []\n  actions: {queue: y}\n", encoding="utf-8")
    assert await _run_cli(["rules", "import", str(bad)]) == 2
    assert "rules.0.groups" in capsys.readouterr().err
    assert await _versions(services) == 1


async def _run_cli(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)


async def test_a_rule_names_an_existing_business_calendar_and_routes_by_its_hours(services: Services, people: dict[str, Any]) -> None:
    policy = _policy(services)
    after_hours = {"name": "After hours", "groups": [{"conditions": [
        {"field": "business_hours", "op": "closed_in", "value": ["office"]}]}], "actions": {"queue": "night"}}
    async with services.db.session() as session:
        with pytest.raises(InvalidInput) as caught:
            await policy.store.save(session, people["ops"], {"rules": [after_hours]})
    assert caught.value.details["errors"] == [{"field": "rules.0.groups.0.conditions.0", "message": "no business calendar named 'office'"}]
    assert await _versions(services) == 0
    closed_today = WEEKDAYS[(services.clock.now().weekday() + 3) % 7]  # open one hour three days from now only
    async with services.db.transaction() as session:  # the SLA calendars ops keep
        session.add(SlaCalendar(name="office", definition={"name": "office", "timezone": "UTC", "hours": {closed_today: ["09:00-10:00"]}}))
    async with services.db.transaction() as session:
        await policy.store.save(session, people["ops"], {"rules": [after_hours]})
    async with services.db.session() as session:
        assert await policy.refresh(session)
        decision = await policy.route(session, Contact("email", None, subject="hello"))
    assert (decision.queue, decision.matched_rule, decision.error) == ("night", "After hours", None)
    assert "outside the business hours of office" in decision.reasons[0]
