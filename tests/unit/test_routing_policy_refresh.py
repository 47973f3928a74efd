"""The live rules are swapped whole; a refresh that read the engine before awaiting the
database must not put that older engine back over a save made meanwhile (a lost update:
the next contacts were routed by the rules the save had replaced)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from routing import policy as policy_module
from routing.defaults import default_rules
from routing.engine import RuleEngine
from routing.policy import RulesPolicy
from routing.settings import RoutingSettings


class _SlowStore:
    """Answers as the database would, but holds the calendar read until told to go on."""

    def __init__(self, live_version: int) -> None:
        self.version = live_version
        self.reading = asyncio.Event()
        self.go_on = asyncio.Event()

    async def live_version(self, _session: Any) -> int:
        return self.version

    async def calendars(self, _session: Any) -> dict[str, Any]:
        self.reading.set()
        await self.go_on.wait()
        return {}

    async def engine(self, _session: Any) -> RuleEngine:
        self.reading.set()
        await self.go_on.wait()
        return RuleEngine(default_rules(RoutingSettings.model_validate({})), self.version, RoutingSettings.model_validate({}))


@pytest.fixture
def stamps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The business calendars' stamp each refresh reads, in turn."""
    values = [(1, 1)]

    async def stamp(_session: Any) -> tuple[int, int]:
        return values[-1]

    monkeypatch.setattr(policy_module, "calendar_stamp", stamp)
    return values


@pytest.mark.parametrize("live_version", [0, 3], ids=["calendars-changed", "newer-version-elsewhere"])
async def test_a_save_during_a_refresh_is_kept_and_the_next_refresh_builds_on_it(
        stamps: list[tuple[int, int]], live_version: int) -> None:
    settings = RoutingSettings.model_validate({})
    policy = RulesPolicy(settings)
    store = _SlowStore(live_version)
    policy.store = store  # type: ignore[assignment]
    refresh = asyncio.create_task(policy.refresh(session=None))  # type: ignore[arg-type]
    await store.reading.wait()
    saved = RuleEngine(default_rules(RoutingSettings.model_validate({"queue_strategies": {"email": "round_robin"}})), 0, settings)
    policy.use(saved)  # an ops save in this process while the refresh awaits the database
    store.go_on.set()
    assert await refresh is False
    assert policy.engine is saved
    if live_version == 0:  # the calendars still changed: the next refresh applies them to the saved rules
        assert await policy.refresh(session=None) is True  # type: ignore[arg-type]
        assert policy.engine.rule_set is saved.rule_set
