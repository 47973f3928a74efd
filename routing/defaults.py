"""The built-in rules: how a fresh install routes before ops write any (version 0).

They fix what the old fixed policy got wrong: a customer's new mail is a new ticket (only a
reply joins its thread); a call joins the customer's ticket only if it was updated in the
last 24 hours (an unknown caller's, by number), else it opens one; an abandoned call leaves
one open callback per customer; VIPs get the higher priority on every channel, callbacks
included; the API joins an open ticket only when the caller asks.
"""

from __future__ import annotations

from typing import Any

from core.records import Priority
from routing.rules import RuleSet, parse_rules
from routing.settings import RoutingSettings

CALL_JOIN_HOURS = 24


def _when(*conditions: tuple[str, str, Any]) -> list[dict[str, Any]]:
    return [{"mode": "all", "conditions": [{"field": f, "op": o, "value": v} for f, o, v in conditions]}]


def default_rules_data(settings: RoutingSettings) -> list[dict[str, Any]]:
    vip = Priority(settings.vip_priority).name.lower()
    rules: list[dict[str, Any]] = [
        {"name": "VIP customers get a higher priority",
         "groups": _when(("tier", "in", ["vip"])), "actions": {"min_priority": vip}},
        {"name": "A call joins the caller's ticket updated in the last 24 h",
         "groups": _when(("channel", "in", ["voice"]), ("callback", "is", False)),
         "actions": {"join_open_ticket": {"within_hours": CALL_JOIN_HOURS}, "call": "ticket"}},
        {"name": "A caller with an open callback joins it",
         "groups": _when(("channel", "in", ["voice"]), ("callback", "is", False), ("open_callback", "exists", True)),
         "actions": {"join_open_ticket": {"callback_only": True}}},
        {"name": "An abandoned call leaves one callback per customer",
         "groups": _when(("channel", "in", ["voice"]), ("callback", "is", True)), "actions": {"call": "callback"}},
        {"name": "The API joins the open ticket only when asked",
         "groups": _when(("channel", "in", ["web"]), ("join_requested", "is", True)),
         "actions": {"join_open_ticket": {}}},
    ]
    if settings.prefer_last_agent:
        rules.append({"name": "A returning customer's new ticket goes to their last agent",
                      "groups": _when(("known_customer", "is", True), ("channel", "not_in", ["voice"])),
                      "actions": {"strategy": "last_agent"}})
    return rules


def default_rules(settings: RoutingSettings) -> RuleSet:
    return parse_rules(default_rules_data(settings))
