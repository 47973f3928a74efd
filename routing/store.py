"""Rule sets in the database, versioned: every save is a new version (author, time, readable diff).

A save validates the whole set first and writes one row in the caller's transaction, so a
bad rule leaves nothing behind. Restoring an old version saves its rules as the newest
version: history only grows. Two ops saving at once: the second gets a conflict (the
version number is unique), not a silent overwrite. YAML in and out, so rules can live in git.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_change
from core.auth import Actor
from core.clock import Clock, SystemClock
from core.errors import Conflict, InvalidInput, NotFound
from core.records import Role, User
from routing.calendars import business_calendars
from routing.defaults import default_rules_data
from routing.engine import RuleEngine
from routing.records import RuleVersion
from routing.references import unknown_references
from routing.rules import RuleSet, parse_rules, rules_data
from routing.settings import RoutingSettings

if TYPE_CHECKING:
    from alerts.calendar import WorkingTime

MAX_YAML = 2_000_000  # bytes of an imported rule file


@dataclasses.dataclass(frozen=True, slots=True)
class LiveRules:
    version: int  # 0: the built-in defaults, nothing saved yet
    rules: list[dict[str, Any]]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for n, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{n + 1}]"))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def describe_diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """What a person reads in the history: rules added, removed, moved and each changed field."""
    old = {r["name"]: r for r in before}
    new = {r["name"]: r for r in after}
    lines: list[str] = []
    for rule in after:
        name = rule["name"]
        if name not in old:
            lines.append(f"+ rule '{name}' added at position {after.index(rule) + 1}")
            continue
        was, now = _flatten(old[name]), _flatten(rule)
        for key in sorted(was.keys() | now.keys()):
            if key == "name" or was.get(key) == now.get(key):
                continue
            if key not in was:
                lines.append(f"~ rule '{name}': {key} set to {_show(now[key])}")
            elif key not in now:
                lines.append(f"~ rule '{name}': {key} removed (was {_show(was[key])})")
            else:
                lines.append(f"~ rule '{name}': {key} {_show(was[key])} → {_show(now[key])}")
    for rule in before:
        if rule["name"] not in new:
            lines.append(f"- rule '{rule['name']}' removed")
    lines += _moves(before, after)
    return "\n".join(lines) or "no change"


def _moves(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """The rules that moved, each from and to its position: the fewest that explain the new order.

    The longest run of kept rules still in their old relative order stayed put; the others moved.
    (Inserting or removing a rule shifts positions but moves nothing.)
    """
    old_at = {r["name"]: n for n, r in enumerate(before)}
    kept = [(name, old_at[name], n) for n, r in enumerate(after) if (name := r["name"]) in old_at]
    # Longest increasing subsequence of the old positions, in O(n²): rule lists are short. Among
    # equally long ones, the one keeping most rules at their very position (a reversal then says
    # the middle rule stayed).
    best: list[tuple[int, int]] = []
    back: list[int] = []
    for i, (_, was, now) in enumerate(kept):
        score, prev = (1, int(was == now)), -1
        for j in range(i):
            if kept[j][1] < was and (best[j][0] + 1, best[j][1] + int(was == now)) > score:
                score, prev = (best[j][0] + 1, best[j][1] + int(was == now)), j
        best.append(score)
        back.append(prev)
    stayed: set[str] = set()
    i = max(reversed(range(len(kept))), key=best.__getitem__, default=-1)  # ties: the moved rule went up
    while i >= 0:
        stayed.add(kept[i][0])
        i = back[i]
    return [f"↕ rule '{name}' moved from position {was + 1} to {now + 1}"
            for name, was, now in kept if name not in stayed]


def export_yaml(version: int, rules: list[dict[str, Any]]) -> str:
    header = f"# Frontdesk routing rules, version {version}\n"
    return header + yaml.safe_dump({"rules": rules}, allow_unicode=True, sort_keys=False, width=120)


def parse_yaml(text: str) -> RuleSet:
    if len(text.encode("utf-8", "replace")) > MAX_YAML:
        raise InvalidInput(f"a rule file may have at most {MAX_YAML:,} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the rule file is not valid YAML: {exc}".splitlines()[0]) from None
    return parse_rules(data)


def unknown_calendars(rule_set: RuleSet, calendars: Mapping[str, object]) -> list[dict[str, str]]:
    """Each business-hours condition naming a calendar that does not exist, with its field path."""
    errors = []
    for r, rule in enumerate(rule_set.rules):
        for g, group in enumerate(rule.groups):
            for c, cond in enumerate(group.conditions):
                if cond.field == "business_hours" and isinstance(cond.value, list):
                    missing = [name for name in cond.value if name not in calendars]
                    if missing:
                        errors.append({"field": f"rules.{r}.groups.{g}.conditions.{c}",
                                       "message": f"no business calendar named {', '.join(map(repr, missing))}"})
    return errors


class RuleStore:
    def __init__(self, settings: RoutingSettings, clock: Clock | None = None, timezone: str = "UTC") -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.timezone = timezone  # of business calendars written without one

    async def live(self, session: AsyncSession) -> LiveRules:
        row = (await session.execute(select(RuleVersion).order_by(RuleVersion.version.desc()).limit(1))).scalars().first()
        if row is None:
            # As a save would store them, so the first version's diff shows only what ops changed.
            return LiveRules(0, rules_data(parse_rules(default_rules_data(self.settings))))
        return LiveRules(row.version, list(row.rules))

    async def live_version(self, session: AsyncSession) -> int:
        return int(await session.scalar(select(func.coalesce(func.max(RuleVersion.version), 0))) or 0)

    async def calendars(self, session: AsyncSession) -> Mapping[str, WorkingTime]:
        return await business_calendars(session, self.timezone)

    async def engine(self, session: AsyncSession) -> RuleEngine:
        live = await self.live(session)
        return RuleEngine(parse_rules(live.rules), live.version, self.settings, await self.calendars(session))

    async def save(self, session: AsyncSession, actor: Actor, data: Any, note: str = "",
                   based_on: int | None = None) -> RuleVersion:
        """Validate and save as the next version; ``based_on`` refuses a save over someone else's newer one."""
        actor.require(Role.OPS)
        rule_set = parse_rules(data)
        errors = unknown_calendars(rule_set, await self.calendars(session))
        errors += await unknown_references(session, rule_set, self.settings)
        if errors:
            raise InvalidInput("the routing rules are not valid", {"errors": errors})
        live = await self.live(session)
        if based_on is not None and based_on != live.version:
            raise Conflict(f"the rules were changed meanwhile (now version {live.version}): reload and try again",
                           {"version": live.version})
        new_rules = rules_data(rule_set)
        row = RuleVersion(version=live.version + 1, rules=new_rules, author_id=actor.user_id, note=note.strip()[:500],
                          diff=describe_diff(live.rules, new_rules), created_at=self.clock.now())
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict("someone saved the rules at the same moment: reload and try again") from None
        record_change(session, actor, "routing.rules.save", "routing_rules", row.version,
                      {"version": live.version}, {"version": row.version, "rules": len(new_rules)})
        return row

    async def history(self, session: AsyncSession, actor: Actor, limit: int = 100) -> list[RuleVersion]:
        actor.require(Role.OPS, Role.SUPERVISOR)
        stmt = select(RuleVersion).order_by(RuleVersion.version.desc()).limit(min(max(limit, 1), 1000))
        return list((await session.execute(stmt)).scalars())

    async def version(self, session: AsyncSession, actor: Actor, version: int) -> RuleVersion:
        actor.require(Role.OPS, Role.SUPERVISOR)
        row = (await session.execute(select(RuleVersion).where(RuleVersion.version == version))).scalars().first()
        if row is None:
            raise NotFound("no such version of the rules", {"version": version})
        return row

    async def author_names(self, session: AsyncSession, rows: list[RuleVersion]) -> dict[int, str]:
        """Who wrote each version, by name: the history is read by people, not by user ids."""
        ids = {row.author_id for row in rows if row.author_id is not None}
        if not ids:
            return {}
        found = await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
        return {int(row.id): str(row.display_name) for row in found}

    async def restore(self, session: AsyncSession, actor: Actor, version: int) -> RuleVersion:
        old = await self.version(session, actor, version)
        return await self.save(session, actor, old.rules, note=f"restored version {version}")


def version_dict(row: RuleVersion, with_rules: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"version": row.version, "author_id": row.author_id, "note": row.note,
                           "created_at": row.created_at.isoformat(), "diff": row.diff}
    if with_rules:
        out["rules"] = row.rules
    return out
