"""The tier rules page for ops: the rules as a form (no YAML), a preview of how many customers
each tier would get, save, and recompute now.

- ``GET  /admin/tiers``            the rules, each with its conditions, and a blank one to add
- ``POST /admin/tiers``            ``action=preview`` (counts, nothing saved) or ``action=save``
- ``POST /admin/tiers/recompute``  every customer's tier from the saved rules, now

Inputs are named ``rules-{i}-name``, ``rules-{i}-c{j}-field`` and so on; a refusal from the
rules' parser (``rules[1].conditions[0].value``) is mapped back to the input it came from.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import read_form
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.errors import InvalidInput
from core.records import Role, Tier
from core.tier_rules import COUNT_FIELDS, FIELDS, OPS, TierRule
from core.tiering import load_rules, preview, recompute_all, save_rules

BLANK_CONDITIONS = 2  # empty condition rows under each rule, to add one without a script
MAX_SLOTS = 60
_WHERE = re.compile(r"rules\[(\d+)\](?:\.conditions\[(\d+)\])?(?:\.(\w+))?")


def _rows(rules: list[TierRule]) -> list[dict[str, Any]]:
    """Saved rules as the form shows them (text in every input)."""
    return [{"name": r.name, "tier": r.tier, "enabled": r.enabled,
             "conditions": [{"field": c.field, "attribute": c.attribute, "op": c.op, "days": c.days or "",
                             "value": ", ".join(c.value) if isinstance(c.value, tuple) else _number(c.value)}
                            for c in r.conditions]} for r in rules]


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _typed(form: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[int, list[int]]]]:
    """The form as typed (to show again) and as rules data (to check), with where each rule and
    condition of the data came from (blank rows and deleted rules are left out of the data)."""
    typed: list[dict[str, Any]] = []
    data: list[tuple[int, dict[str, Any], list[int]]] = []
    for i in range(MAX_SLOTS):
        prefix = f"rules-{i}-"
        if f"{prefix}name" not in form:
            break
        conditions = []
        kept: list[int] = []
        for j in range(MAX_SLOTS):
            cp = f"{prefix}c{j}-"
            if f"{cp}field" not in form:
                break
            condition = {k: form.get(f"{cp}{k}", "").strip() for k in ("field", "attribute", "op", "value", "days")}
            conditions.append(condition)
            if condition["field"]:
                kept.append(j)
        row: dict[str, Any] = {"name": form.get(f"{prefix}name", "").strip(), "tier": form.get(f"{prefix}tier", ""),
               "enabled": form.get(f"{prefix}enabled") == "1", "conditions": [c for c in conditions if c["field"]],
               "delete": form.get(f"{prefix}delete") == "1", "position": form.get(f"{prefix}position", "")}
        if row["delete"] or (not row["name"] and not row["conditions"]):
            continue
        typed.append(row)
        data.append((i, {"name": row["name"], "tier": row["tier"], "enabled": row["enabled"],
                         "conditions": [{**c, "days": c["days"] or None} for c in row["conditions"]]}, kept))
    order = sorted(range(len(data)), key=lambda k: (_position(typed[k]["position"], k), k))
    return ([typed[k] for k in order], [data[k][1] for k in order], [(data[k][0], data[k][2]) for k in order])


def _position(text: str, default: int) -> float:
    try:
        return float(text)
    except ValueError:
        return default + 1


def _input_of(error: InvalidInput, slots: list[tuple[int, list[int]]]) -> str:
    """The form input a refusal names (``rules-2-c0-value``), or ""."""
    match = _WHERE.fullmatch(str(error.details.get("field", "")))
    if not match or int(match[1]) >= len(slots):
        return ""
    rule, conditions = slots[int(match[1])]
    if match[2] is None:
        return f"rules-{rule}-{match[3] or 'name'}"
    j = int(match[2])
    return f"rules-{rule}-c{conditions[j] if j < len(conditions) else j}-{match[3] or 'field'}"


async def _page(request: web.Request, rows: list[dict[str, Any]], *, counts: dict[str, Any] | None = None,
                error: InvalidInput | None = None, error_input: str = "", saved: bool = False,
                recomputed: int | None = None) -> web.Response:
    for row in rows:
        row["slots"] = [*row["conditions"], *({"field": ""} for _ in range(BLANK_CONDITIONS))]
    blank = {"name": "", "tier": Tier.VIP.value, "enabled": True, "conditions": [],
             "slots": [{"field": ""} for _ in range(BLANK_CONDITIONS + 1)]}
    return render("tiers/rules.html", request, {
        "rules": [*rows, blank], "fields": FIELDS, "count_fields": COUNT_FIELDS, "ops": OPS,
        "tiers": [t.value for t in Tier], "counts": counts, "error": error, "error_input": error_input,
        "saved": saved, "recomputed": recomputed}, status=400 if error else 200)


async def rules_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    actor.require(Role.OPS)
    async with request.app[SERVICES].db.session() as session:
        rules = await load_rules(session)
    return await _page(request, _rows(rules), saved=request.query.get("saved") == "1",
                       recomputed=int(request.query["changed"]) if request.query.get("changed", "").isdigit() else None)


async def submit(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    actor.require(Role.OPS)
    form = await read_form(request)
    typed, data, slots = _typed(form)
    services = request.app[SERVICES]
    try:
        if form.get("action") == "save":
            async with services.db.transaction() as session:
                await save_rules(session, actor, data)
            raise web.HTTPSeeOther("/admin/tiers?saved=1")
        async with services.db.session() as session:
            counts = await preview(session, actor, data, services.clock.now())
    except InvalidInput as exc:
        return await _page(request, typed, error=exc, error_input=_input_of(exc, slots))
    return await _page(request, typed, counts=counts)


async def recompute(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    await read_form(request)
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        changed = await recompute_all(session, actor, services.clock.now())
    raise web.HTTPSeeOther(f"/admin/tiers?changed={changed}")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/tiers", rules_page)
    app.router.add_post("/admin/tiers", submit)
    app.router.add_post("/admin/tiers/recompute", recompute)
