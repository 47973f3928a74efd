"""The help centre's request form: a customer writes to us from the web, no sign-in.

Public pages are hostile territory: the form's token, honeypot and rate limit are checked by
``channels.web_request_guard`` before anything is stored, the identity middleware refuses a
post from another site (``Origin``), the app's body limit caps the whole form, and the web
channel (``channels.web_requests``) caps each field and file. Handlers only parse, call the
guard and the channel, and render.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_ui.base.inputs import form_of, path_int
from agent_ui.base.keys import SERVICES, SIGNING_KEY
from agent_ui.base.rendering import render
from agent_ui.help.views import help_language
from channels.mime import ParsedAttachment
from channels.plugin import EMAIL_CHANNEL
from channels.web_request_guard import HONEYPOT_FIELD, RequestGuard, RequestRefused
from channels.web_requests import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MESSAGE_CAP,
    NAME_CAP,
    ORDER_CAP,
    PHONE_CAP,
    SUBJECT_CAP,
    WebRequest,
)
from core.errors import InvalidInput, Unavailable
from knowledge.deflections import count_deflection

REQUEST_GUARD: web.AppKey[RequestGuard] = web.AppKey("help_request_guard", RequestGuard)
TEXT_FIELDS = ("subject", "message", "email", "name", "phone", "order_number")
CAPS = {"subject": SUBJECT_CAP, "message": MESSAGE_CAP, "email": 320, "name": NAME_CAP, "phone": PHONE_CAP,
        "order_number": ORDER_CAP}


def _form_page(request: web.Request, values: dict[str, str], problem: str | None = None,
               field: str | None = None, status: int = 200) -> web.Response:
    context: dict[str, Any] = {
        "values": values, "problem": problem, "problem_field": field, "token": request.app[REQUEST_GUARD].issue(),
        "honeypot": HONEYPOT_FIELD, "caps": CAPS, "max_files": MAX_FILES, "max_file_bytes": MAX_FILE_BYTES,
        **help_language(request),
    }
    return render("knowledge/help_request.html", request, context, status=status)


async def request_form(request: web.Request) -> web.Response:
    return _form_page(request, {"subject": request.query.get("subject", "")[:SUBJECT_CAP]})


async def submit_request(request: web.Request) -> web.Response:
    form = await form_of(request)
    values = {name: str(form.get(name, ""))[: CAPS[name] + 1] for name in TEXT_FIELDS}
    files = [f for f in form.getall("attachments", []) if isinstance(f, web.FileField) and f.filename]
    language = help_language(request).get("lang") or None
    channel = request.app.get(EMAIL_CHANNEL)
    if channel is None:
        raise Unavailable("the email channel is not running")
    try:
        request.app[REQUEST_GUARD].check(str(form.get("token", "")), str(form.get(HONEYPOT_FIELD, "")),
                                         values["email"].strip(), request.remote or "")
        attachments = [ParsedAttachment(f.filename[:300], f.content_type or "application/octet-stream", f.file.read())
                       for f in files]
        submitted = await channel.web_requests.submit(WebRequest(
            subject=values["subject"], message=values["message"], email=values["email"], name=values["name"],
            phone=values["phone"], order_number=values["order_number"], language=language, attachments=attachments,
        ))
    except RequestRefused as refused:
        return _form_page(request, values, refused.reason, status=refused.status)
    except InvalidInput as invalid:
        return _form_page(request, values, "invalid", str(invalid.details.get("field", "")), status=400)
    return render("knowledge/help_request_sent.html", request,
                  {"ticket_tag": submitted.ticket_tag, "email": values["email"].strip(), **help_language(request)})


async def solved_by_article(request: web.Request) -> web.Response:
    """"This solved my question" on a suggested article: a deflection, no ticket."""
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        count = await count_deflection(session, path_int(request, "id"), services.clock.now())
    return web.json_response({"article_id": path_int(request, "id"), "deflections": count})


def setup_routes(app: web.Application) -> None:
    services = app[SERVICES]
    app[REQUEST_GUARD] = RequestGuard(app[SIGNING_KEY], services.clock)
    app.router.add_get("/help/new", request_form)
    app.router.add_post("/help/new", submit_request)
    app.router.add_post(r"/help/{id:\d+}/solved", solved_by_article)
