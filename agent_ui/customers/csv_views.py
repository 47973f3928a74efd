"""CSV import (preview, then confirm) and export of the customer directory.

The preview runs the import's dry run and shows its counts and every left-out row with its
number and reason; the file's text rides along in the page, so "Import" sends back exactly
what was previewed and the import plans it again in its own transaction.
"""

from __future__ import annotations

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import check_text, form_of
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from core.customer_export import export_customers
from core.customer_import import COLUMNS, import_customers, plan_import
from core.errors import InvalidInput
from core.records import Role

# A CSV of 20,000 customers is about 1.5 MB; the body limit (web.max_body_bytes) applies first.
CSV_CAP = 4_000_000


async def _csv_text(request: web.Request) -> tuple[str, str]:
    """The uploaded file (or the previewed text sent back) and which button was pressed."""
    form = await form_of(request)
    upload = form.get("file")
    text = form.get("csv")
    if isinstance(upload, web.FileField):
        raw = upload.file.read(CSV_CAP + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the file is not UTF-8 text", {"field": "file"}) from None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("choose a CSV file", {"field": "file"})
    mode = form.get("mode")
    return check_text(text, "csv", CSV_CAP), mode if isinstance(mode, str) else "preview"


async def import_page(request: web.Request) -> web.StreamResponse:
    actor_of(request).require(Role.SUPERVISOR, Role.OPS)
    return render("customers/import.html", request, {"columns": COLUMNS, "plan": None})


async def import_csv(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    text, mode = await _csv_text(request)
    services = request.app[SERVICES]
    region = services.settings.phone_region
    if mode == "confirm":
        async with services.db.transaction() as session:
            plan = await import_customers(session, actor, text, region)
        return render("customers/import.html", request, {"columns": COLUMNS, "plan": plan, "imported": True})
    async with services.db.session() as session:
        plan = await plan_import(session, actor, text, region)
    return render("customers/import.html", request, {"columns": COLUMNS, "plan": plan, "csv": text})


async def export_csv(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    actor.require(Role.SUPERVISOR, Role.OPS)  # before the response starts: a refusal is still a 403
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="customers.csv"'})
    await response.prepare(request)
    await response.write("\ufeff".encode())  # so spreadsheets read the file as UTF-8
    async with request.app[SERVICES].db.session() as session:
        async for chunk in export_customers(session, actor):
            await response.write(chunk.encode("utf-8"))
    await response.write_eof()
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/customers/import", import_page)
    app.router.add_post("/customers/import", import_csv)
    # No HEAD: the body is streamed as it is read, so there is nothing to answer a HEAD with.
    app.router.add_get("/customers/export.csv", export_csv, allow_head=False)
