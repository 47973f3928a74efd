"""Reading a reply sent as a multipart form (text fields and files), with bounded memory.

The composer posts its reply as ``multipart/form-data`` so files can come with it. The app's
body limit (``web.max_body_bytes``) is meant for JSON and forms and is far below a reply's
attachment cap, so a reply whose CSRF token comes as a header (the composer's script, API
clients) is read here part by part instead of through ``request.post()``: text fields up to
their cap, files up to the attachment cap plus one byte in total — enough for the reply
service to refuse an oversized set with its own clear error, without holding more. A form
posted without the script carries its token in the body, which the CSRF check has already
read within the body limit; that form is taken as read.
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from agent_ui.base.identity import CSRF_HEADER, signed_in
from agent_ui.base.input_caps import cap_of
from agent_ui.base.inputs import check_text, form_of
from channels.reply_attachments import MAX_FILES, OutgoingFile
from core.errors import InvalidInput

_CHUNK = 65_536


async def _bounded(part: BodyPartReader, limit: int) -> tuple[bytes, bool]:
    """The part's bytes up to ``limit``, and whether there was more."""
    data = bytearray()
    while True:
        chunk = await part.read_chunk(_CHUNK)
        if not chunk:
            return bytes(data), False
        data.extend(chunk)
        if len(data) > limit:
            return bytes(data[: limit + 1]), True


def _text(data: bytes, name: str, schema: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("a form field is not valid text in its character set", {"field": name}) from None
    return check_text(text, name, cap_of(schema, name))


async def read_reply_upload(
    request: web.Request, schema: str, max_file_bytes: int
) -> tuple[dict[str, list[str]], list[OutgoingFile]]:
    """Text fields (each name may repeat) and files of a multipart reply."""
    who = signed_in(request)
    if request.headers.get(CSRF_HEADER) is None and not (who is not None and who.via_token):
        return await _already_read(request, schema)
    fields: dict[str, list[str]] = {}
    files: list[OutgoingFile] = []
    budget = max_file_bytes + 1
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidInput("nested multipart bodies are not accepted", {"field": "(body)"})
        name = part.name or ""
        if part.filename is not None:
            if len(files) > MAX_FILES:
                raise InvalidInput("too many attachments", {"field": "attachments", "max_files": MAX_FILES})
            data, _more = await _bounded(part, max(budget, 0))
            if not data and not part.filename:
                continue  # an empty file input
            files.append(OutgoingFile(part.filename, part.headers.get("Content-Type", ""), data))
            budget -= len(data)
            if budget < 0:
                break  # already over the cap: the service refuses it, naming the limit
            continue
        cap = cap_of(schema, name)
        data, more = await _bounded(part, cap * 4)  # UTF-8: at most four bytes a character
        if more:
            raise InvalidInput(f"{name} is longer than {cap:,} characters", {"field": name, "max_length": cap})
        fields.setdefault(name, []).append(_text(data, name, schema))
    return fields, files


async def _already_read(request: web.Request, schema: str) -> tuple[dict[str, list[str]], list[OutgoingFile]]:
    form = await form_of(request)
    fields: dict[str, list[str]] = {}
    files: list[OutgoingFile] = []
    for name, value in form.items():
        if isinstance(value, web.FileField):
            data = value.file.read()
            if data or value.filename:
                files.append(OutgoingFile(value.filename, value.content_type, data))
        elif isinstance(value, str):
            fields.setdefault(name, []).append(check_text(value, name, cap_of(schema, name)))
    return fields, files
