"""The audit log: every change a person makes, with before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Actor
from core.records import AuditLog


def record_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction, so it commits with the change."""
    session.add(
        AuditLog(
            actor_id=actor.user_id,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )


async def record_changes(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity: str,
    changes: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]],
) -> None:
    """Many audit rows (entity id, before, after) in one statement, in the caller's
    transaction: a bulk change (an import of thousands of rows) audits each row without an
    INSERT per row."""
    if changes:
        await session.execute(insert(AuditLog), [
            {"actor_id": actor.user_id, "action": action, "entity": entity, "entity_id": str(entity_id),
             "before": before, "after": after}
            for entity_id, before, after in changes
        ])
