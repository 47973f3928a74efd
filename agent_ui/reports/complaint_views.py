"""``/reports/complaints``: complaints by category, product, queue and channel with their weekly
trend, the tickets behind any figure (``?by=…&key=…``), and the same figures as CSV
(``routing.complaint_report``). Supervisors and admins, as every report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render, request_language
from agent_ui.reports.views import report_span, safe_cell
from routing.complaint_report import ComplaintReport, complaint_report, complaint_tickets
from routing.complaints import category_names


async def _report(request: web.Request) -> tuple[ComplaintReport, dict[str, str]]:
    actor = actor_of(request)
    services = request.app[SERVICES]
    span = report_span(request)
    language = request_language(request)
    async with services.db.session() as session:
        return await complaint_report(session, actor, span, language), await category_names(session, language)


async def complaints_page(request: web.Request) -> web.StreamResponse:
    report, names = await _report(request)
    by, key = request.query.get("by", ""), request.query.get("key", "")
    drilled = None
    if by:
        async with request.app[SERVICES].db.session() as session:
            drilled = await complaint_tickets(session, actor_of(request), report.span, by, key[:200])
    return render("reports/complaints.html", request,
                  {"report": report, "span": report.span, "names": names, "by": by, "key": key, "drilled": drilled})


def complaint_rows(report: ComplaintReport) -> Iterable[list[object]]:
    yield ["by", "key", "name", "total", *(f"week_of_{week.isoformat()}" for week in report.weeks)]
    yield ["all", "", "", report.total.total, *report.total.weekly]
    for by, rows in report.sections():
        for row in rows:
            yield [by, row.key, row.label, row.total, *row.weekly]


async def complaints_csv(request: web.Request) -> web.StreamResponse:
    report, _names = await _report(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in complaint_rows(report):
        writer.writerow([safe_cell(cell) for cell in row])
    name = f"frontdesk-complaints-{report.span.first.isoformat()}-{report.span.last.isoformat()}.csv"
    return web.Response(body=buffer.getvalue().encode("utf-8-sig"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def setup_routes(app: web.Application) -> None:
    """Before ``/reports/{kind}.csv``, which would otherwise take ``complaints.csv``."""
    app.router.add_get("/reports/complaints", complaints_page)
    app.router.add_get("/reports/complaints.csv", complaints_csv)

