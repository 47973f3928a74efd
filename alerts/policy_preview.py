"""What a policy would do, before it is saved: when each escalation level would fire for a
sample ticket opened at a given moment (per target, counted in the policy's calendar) and
what its messages would say (the level's templates rendered against a sample ticket).

Ops read this next to the form, so a "+1h" that lands on a Sunday, or a template that falls
back to the built-in text, shows up before a real ticket is late.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.base.i18n import translate
from alerts.messages import SAMPLE_CONTEXT, AlertMessages
from alerts.policies import TARGET_LABELS, TARGETS, PolicyStore, compile_book, policy_definition
from alerts.records import SlaCalendar
from alerts.settings import CalendarDefinition
from core.auth import Actor
from core.records import Role


@dataclasses.dataclass(frozen=True, slots=True)
class LevelPreview:
    """One level of one target: when it fires and what it says."""

    target: str  # TARGET_LABELS' English, translated where shown
    level: int  # 1-based, as people count
    at: str
    deadline: datetime
    fires_at: datetime
    channels: list[str]
    recipients: list[str]
    sms: str
    subject: str
    failures: list[str]


async def preview_policy(
    session: AsyncSession, actor: Actor, store: PolicyStore, messages: AlertMessages, data: dict[str, Any],
    opened_at: datetime, language: str | None = None,
) -> list[LevelPreview]:
    """Every level's firing time and texts for a sample ticket opened at ``opened_at``; the
    definition is checked as saving would check it (``InvalidInput`` naming the field)."""
    actor.require(Role.OPS)
    pol = policy_definition(data)
    cals = [CalendarDefinition.model_validate(r.definition) for r in (await session.execute(select(SlaCalendar))).scalars()]
    policy = compile_book([pol], cals, store.server_tz).policies[0]
    rows: list[LevelPreview] = []
    for target in TARGETS:
        seconds = policy.target_seconds(target)
        if seconds is None:
            continue
        deadline = policy.working.add(opened_at, seconds)
        for level in policy.levels:
            context = {**SAMPLE_CONTEXT, "language": language, "level": level.index + 1,
                       "target": translate(language, TARGET_LABELS[target])}
            said = await messages.level_texts(level.definition, context,
                                              f"SLA policy {pol.name!r} level {level.index + 1}")
            rows.append(LevelPreview(
                TARGET_LABELS[target], level.index + 1, level.definition.at, deadline,
                policy.fire_time(level, deadline, seconds), list(level.definition.channels),
                list(level.definition.recipients), said.sms, said.subject, [f["error"] for f in said.failures]))
    return rows
