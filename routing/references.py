"""What a rule names outside the rules — SLA policies, reply templates, teams, complaint categories — checked when the
rules are saved, so a typo is refused with its field named instead of showing up when a contact
comes in (an unknown policy would quietly fall back to the matching one, an unknown
acknowledgement template to the mailbox's text, an unknown team would offer work to nobody).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.complaints import list_categories
from routing.rules import RuleSet
from routing.settings import RoutingSettings


async def known_names(session: AsyncSession, settings: RoutingSettings) -> dict[str, list[str]]:
    """The names a rule may refer to, for the editor to offer: SLA policies, reply templates, their categories, teams."""
    from alerts.records import SlaPolicy
    from knowledge.records import ReplyTemplate

    active = ReplyTemplate.active.is_(True)
    return {
        "sla_policies": sorted(await session.scalars(select(SlaPolicy.name))),
        "templates": sorted(set(await session.scalars(select(ReplyTemplate.name).where(active)))),
        "template_categories": sorted(set(await session.scalars(
            select(ReplyTemplate.category).where(active, ReplyTemplate.category.is_not(None))))),
        "teams": sorted(settings.teams),
        "complaint_categories": [c.key for c in await list_categories(session, active_only=True)],
    }


async def unknown_references(session: AsyncSession, rule_set: RuleSet, settings: RoutingSettings) -> list[dict[str, str]]:
    """Each action or condition naming a policy, template or team that does not exist, with its field path."""
    # Imported here: alerts and knowledge import the desk, which imports routing's engine.
    from alerts.records import SlaPolicy
    from knowledge.records import ReplyTemplate

    policies = set(await session.scalars(select(SlaPolicy.name)))
    templates = set(await session.scalars(select(ReplyTemplate.name).where(ReplyTemplate.active.is_(True))))
    categories = {c.key for c in await list_categories(session, active_only=True)}
    errors: list[dict[str, str]] = []
    for r, rule in enumerate(rule_set.rules):
        actions = rule.actions
        if actions.complaint_category is not None and actions.complaint_category not in categories:
            errors.append({"field": f"rules.{r}.actions.complaint_category",
                           "message": f"no complaint category {actions.complaint_category!r}"})
        if actions.sla_policy is not None and actions.sla_policy not in policies:
            errors.append({"field": f"rules.{r}.actions.sla_policy", "message": f"no SLA policy named {actions.sla_policy!r}"})
        if actions.acknowledgement not in (None, "none") and actions.acknowledgement not in templates:
            errors.append({"field": f"rules.{r}.actions.acknowledgement",
                           "message": f"no reply template named {actions.acknowledgement!r}"})
        if actions.team is not None and actions.team not in settings.teams:
            errors.append({"field": f"rules.{r}.actions.team", "message": f"no team named {actions.team!r}"})
        for g, group in enumerate(rule.groups):
            for c, cond in enumerate(group.conditions):
                if cond.field == "template" and isinstance(cond.value, list):
                    missing = [name for name in cond.value if name not in templates]
                    if missing:
                        errors.append({"field": f"rules.{r}.groups.{g}.conditions.{c}",
                                       "message": f"no reply template named {', '.join(map(repr, missing))}"})
    return errors
