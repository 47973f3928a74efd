"""Email on the console and the API: the reply composer, attachment downloads, the quarantine."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from agent_ui.base.identity import actor_of
from agent_ui.base.inputs import as_int, optional_str, path_int, read_form, read_json
from agent_ui.base.keys import SERVICES
from agent_ui.base.rendering import render
from agent_ui.mail.reply_upload import read_reply_upload
from channels.attachments import attachment_download
from channels.mail_batch import IngestResult
from channels.plugin import EMAIL_CHANNEL, EmailChannel
from channels.quarantine import quarantine_dict
from channels.replies import ReplyDraft
from channels.reply_attachments import OutgoingFile
from core.errors import InvalidInput, Unavailable
from routing import entry_dict


def _channel(request: web.Request) -> EmailChannel:
    channel = request.app.get(EMAIL_CHANNEL)
    if channel is None:
        raise Unavailable("the email channel is not running")
    return channel


def _addresses(data: dict[str, Any], name: str) -> list[str]:
    """Cc/Bcc as typed ("a@x, b@y") or as a JSON list of addresses."""
    value = data.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, str):
        return [value]
    raise InvalidInput(f"{name} must be a string or a list of strings", {"field": name})


def _draft(data: dict[str, Any], files: list[OutgoingFile] | None = None) -> ReplyDraft:
    template = data.get("template_id")
    return ReplyDraft(
        subject=optional_str(data, "subject") or "",
        body=optional_str(data, "body") or "",
        template_id=as_int(template, "template_id") if template not in (None, "") else None,
        to=optional_str(data, "to") or None,
        cc=_addresses(data, "cc"),
        bcc=_addresses(data, "bcc"),
        format=optional_str(data, "format") or "plain",
        attachments=files or [],
    )


async def _posted_draft(request: web.Request) -> ReplyDraft:
    """A reply as JSON or a plain form (no files), or as a multipart form (with files)."""
    if request.content_type == "application/x-www-form-urlencoded":
        return _draft(dict(await read_form(request, "ReplyDraft")))
    if request.content_type != "multipart/form-data":
        return _draft(await read_json(request, "ReplyDraft"))
    limit = _channel(request).replies.max_attachment_bytes
    fields, files = await read_reply_upload(request, "ReplyDraft", limit)
    data: dict[str, Any] = {k: (v if k in ("cc", "bcc") else v[-1]) for k, v in fields.items()}
    return _draft(data, files)


def _result(result: IngestResult) -> dict[str, Any]:
    return {"outcome": result.outcome, "ticket_id": result.ticket_id, "entry_id": result.entry_id,
            "quarantine_id": result.quarantine_id}


# -- replies -----------------------------------------------------------------------------
async def suggestions(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        found = await _channel(request).replies.suggestions(session, actor, path_int(request, "ticket_id"))
    return web.json_response({"suggestions": found})


async def reply_preview(request: web.Request) -> web.Response:
    actor = actor_of(request)
    data = await read_json(request)
    if data.get("template_id") is None:
        raise InvalidInput("template_id is required")
    services = request.app[SERVICES]
    async with services.db.session() as session:
        rendered = await _channel(request).replies.preview(
            session, actor, path_int(request, "ticket_id"), as_int(data["template_id"], "template_id")
        )
    return web.json_response({"template_id": rendered.template_id, "subject": rendered.subject, "body": rendered.body})


async def send_reply(request: web.Request) -> web.Response:
    actor = actor_of(request)
    draft = await _posted_draft(request)
    sent = await _channel(request).replies.send(actor, path_int(request, "ticket_id"), draft)
    return web.json_response(
        {"entry": entry_dict(sent.entry), "outbox_id": sent.outbox_id, "message_id": sent.message_id}, status=201
    )


async def reply_form(request: web.Request) -> web.StreamResponse:
    """POST /tickets/{id}/reply from the composer without JavaScript."""
    actor = actor_of(request)
    ticket_id = path_int(request, "ticket_id")
    await _channel(request).replies.send(actor, ticket_id, await _posted_draft(request))
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")


# -- attachments ---------------------------------------------------------------------------
async def download_attachment(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        found = await attachment_download(
            session, services.desk, actor, path_int(request, "entry_id"), path_int(request, "index")
        )
    ascii_name = found.filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return web.Response(
        body=found.data,
        content_type=found.content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


# -- quarantine ----------------------------------------------------------------------------
async def _quarantined(request: web.Request) -> tuple[str, list[dict[str, Any]]]:
    """``?status=held`` (default), ``released`` or ``all``, and what is in it."""
    actor = actor_of(request)
    status = request.query.get("status", "held")
    async with request.app[SERVICES].db.session() as session:
        rows = await _channel(request).quarantine.list(session, actor, None if status == "all" else status)
        return status, [quarantine_dict(r) for r in rows]


async def quarantine_list(request: web.Request) -> web.Response:
    _status, items = await _quarantined(request)
    return web.json_response({"quarantine": items})


async def quarantine_get(request: web.Request) -> web.Response:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        row = await _channel(request).quarantine.get(session, actor, path_int(request, "quarantine_id"))
        return web.json_response({"message": quarantine_dict(row, with_raw=True)})


async def quarantine_retry(request: web.Request) -> web.Response:
    actor = actor_of(request)
    result = await _channel(request).quarantine.retry(actor, path_int(request, "quarantine_id"))
    return web.json_response({"result": _result(result)})


async def quarantine_page(request: web.Request) -> web.StreamResponse:
    status, items = await _quarantined(request)
    return render("channels/quarantine.html", request, {"items": items, "status": status})


async def quarantine_detail_page(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    services = request.app[SERVICES]
    async with services.db.session() as session:
        row = await _channel(request).quarantine.get(session, actor, path_int(request, "quarantine_id"))
        item = quarantine_dict(row, with_raw=True)
    return render("channels/quarantine_detail.html", request, {"item": item})


async def quarantine_retry_form(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    quarantine_id = path_int(request, "quarantine_id")
    result = await _channel(request).quarantine.retry(actor, quarantine_id)
    if result.ticket_id is not None:
        raise web.HTTPSeeOther(f"/tickets/{result.ticket_id}")
    raise web.HTTPSeeOther(f"/ops/quarantine/{quarantine_id}")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tickets/{ticket_id}/suggestions", suggestions)
    app.router.add_post("/api/v1/tickets/{ticket_id}/reply-preview", reply_preview)
    app.router.add_post("/api/v1/tickets/{ticket_id}/replies", send_reply)
    app.router.add_get("/api/v1/entries/{entry_id}/attachments/{index}", download_attachment)
    app.router.add_get("/api/v1/mail/quarantine", quarantine_list)
    app.router.add_get("/api/v1/mail/quarantine/{quarantine_id}", quarantine_get)
    app.router.add_post("/api/v1/mail/quarantine/{quarantine_id}/retry", quarantine_retry)
    app.router.add_post("/tickets/{ticket_id}/reply", reply_form)
    app.router.add_get("/ops/quarantine", quarantine_page)
    app.router.add_get("/ops/quarantine/{quarantine_id}", quarantine_detail_page)
    app.router.add_post("/ops/quarantine/{quarantine_id}/retry", quarantine_retry_form)
