"""``/reports``: supervisor reports for a date range, on a page and as CSV (``routing.reports``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.clock import as_utc
from core.errors import NotFound
from knowledge.deflections import deflection_report
from routing.reports import DateRange, agent_report, category_report, sla_compliance
from routing.satisfaction_report import csat_report


def _zone(request: web.Request) -> ZoneInfo:
    try:
        return ZoneInfo(request.app[SERVICES].settings.timezone)
    except Exception:
        return ZoneInfo("UTC")


def report_span(request: web.Request) -> DateRange:
    """The ``from`` / ``to`` dates asked for (the last seven days by default), in the server's zone."""
    zone = _zone(request)
    now = as_utc(request.app[SERVICES].clock.now())
    return DateRange.parse(request.query.get("from"), request.query.get("to"), now.astimezone(zone).date(), zone)


async def _reports(request: web.Request) -> dict[str, Any]:
    actor = actor_of(request)
    services = request.app[SERVICES]
    now = as_utc(services.clock.now())
    span = report_span(request)
    async with services.db.session() as session:
        return {
            "span": span,
            "agents": await agent_report(session, actor, span),
            "categories": await category_report(session, actor, span, now),
            "compliance": await sla_compliance(session, actor, span, now),
            "csat": await csat_report(session, actor, span),
            "deflections": await deflection_report(session, actor),
        }


async def reports_page(request: web.Request) -> web.StreamResponse:
    return render("reports/reports.html", request, await _reports(request))


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _rows(kind: str, report: dict[str, Any]) -> Iterable[list[object]]:
    if kind == "agents":
        yield ["agent", "calls_answered", "talk_time_s", "avg_talk_time_s", "emails_sent", "first_responses",
               "avg_first_response_s", "offers", "accepted", "declined", "missed", "avg_time_to_accept_s"]
        for a in report["agents"]:
            yield [a.name, a.calls, f"{a.talk_s:.0f}", _seconds(a.avg_talk_s), a.emails, a.first_responses,
                   _seconds(a.avg_first_response_s), a.offers, a.accepted, a.declined, a.missed, _seconds(a.avg_accept_s)]
    elif kind == "categories":
        yield ["category", "opened", "still_open", "solved", "avg_first_response_s", "breached", "by_channel"]
        for c in report["categories"]:
            channels = " ".join(f"{name}:{n}" for name, n in sorted(c.by_channel.items()))
            yield [c.category, c.opened, c.still_open, c.solved, _seconds(c.avg_first_response_s), c.breached, channels]
    elif kind == "sla":
        yield ["queue", "policy", "tickets", "breached", "compliance"]
        for r in report["compliance"]:
            yield [r.queue, r.policy, r.tickets, r.breached, "" if r.compliance is None else f"{r.compliance:.4f}"]
    elif kind == "csat":
        yield ["by", "name", "good", "bad", "csat"]
        csat = report["csat"]
        for by, rows in (("agent", csat.agents), ("queue", csat.queues), ("all", [csat.total])):
            for r in rows:
                yield [by, r.name, r.good, r.bad, "" if r.csat is None else f"{r.csat:.4f}"]
    else:
        raise NotFound("no such report", {"report": kind, "reports": ["agents", "categories", "sla", "csat"]})


async def report_csv(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    report = await _reports(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _rows(kind, report):
        writer.writerow([safe_cell(cell) for cell in row])
    span: DateRange = report["span"]
    name = f"frontdesk-{kind}-{span.first.isoformat()}-{span.last.isoformat()}.csv"
    return web.Response(body=buffer.getvalue().encode("utf-8-sig"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def safe_cell(value: object) -> object:
    """Cells a spreadsheet would run as a formula get a leading quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/{kind}.csv", report_csv)
