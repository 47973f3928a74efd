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
from routing.rule_diff import N_, Words, describe_diff
from routing.rules import RuleSet, parse_rules, rules_data
from routing.settings import RoutingSettings

if TYPE_CHECKING:
    from alerts.calendar import WorkingTime

MAX_YAML = 2_000_000  # bytes of an imported rule file
RESTORED = N_("restored version %(version)s")  # the note of a restore (translated where it is shown)


@dataclasses.dataclass(frozen=True, slots=True)
class LiveRules:
    version: int  # 0: the built-in defaults, nothing saved yet
    rules: list[dict[str, Any]]


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
                   based_on: int | None = None, restored_from: int | None = None) -> RuleVersion:
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
                          diff=describe_diff(live.rules, new_rules), created_at=self.clock.now(),
                          restored_from=restored_from)
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

    async def readable_history(self, session: AsyncSession, actor: Actor, words: Words) -> list[dict[str, Any]]:
        """The history as a person reads it: each version's diff against the one before (the
        built-in rules for the first) and a restore's note, in ``words`` (the reader's catalogue)."""
        rows = await self.history(session, actor)
        if not rows:
            return []
        oldest = rows[-1].version
        before: dict[int, list[dict[str, Any]]] = {row.version: list(row.rules) for row in rows}
        if oldest == 1:
            before[0] = rules_data(parse_rules(default_rules_data(self.settings)))
        else:
            earlier = (await session.execute(select(RuleVersion).where(RuleVersion.version == oldest - 1))).scalars().first()
            if earlier is not None:
                before[oldest - 1] = list(earlier.rules)
        shown = []
        for row in rows:
            item = version_dict(row)
            if row.version - 1 in before:
                item["diff"] = describe_diff(before[row.version - 1], list(row.rules), words)
            if row.restored_from is not None:
                item["note"] = words(RESTORED) % {"version": row.restored_from}
            shown.append(item)
        return shown

    async def restore(self, session: AsyncSession, actor: Actor, version: int) -> RuleVersion:
        old = await self.version(session, actor, version)
        return await self.save(session, actor, old.rules, note=RESTORED % {"version": version}, restored_from=version)


def version_dict(row: RuleVersion, with_rules: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"version": row.version, "author_id": row.author_id, "note": row.note,
                           "created_at": row.created_at.isoformat(), "diff": row.diff}
    if with_rules:
        out["rules"] = row.rules
    return out
