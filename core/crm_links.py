"""The "open in CRM" link: the company's URL template filled with a customer's CRM id.

The template (``web.crm_url``, e.g. ``https://crm.example.com/contacts/{external_id}``) is
checked when the settings load: http or https only (never ``javascript:``), and only the
placeholders ``{external_id}`` and ``{number}``. A template with ``{external_id}`` gives a
link only for customers who have one.
"""

from __future__ import annotations

import string
import urllib.parse

PLACEHOLDERS = frozenset({"external_id", "number"})


def check_template(template: str) -> str:
    """The template, or ValueError saying what is wrong with it."""
    text = template.strip()
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http:// or https:// address")
    if any(ch.isspace() or ch in "<>\"'" for ch in text):
        raise ValueError("must not contain spaces, quotes or angle brackets")
    try:
        names = {name for _, name, spec, conv in string.Formatter().parse(text) if name is not None}
        specs = [spec or conv for _, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise ValueError("has an unmatched { or }") from None
    if not names <= PLACEHOLDERS or any(specs):
        raise ValueError("may use only {external_id} and {number}")
    if "{external_id}" in parsed.netloc or "{number}" in parsed.netloc:
        raise ValueError("the customer's id belongs in the path or query, not the host")
    return text


def crm_link(template: str | None, external_id: str | None, number: str = "") -> str | None:
    """The filled-in link, or None (no template, or it needs an id the customer lacks)."""
    if not template:
        return None
    if "{external_id}" in template and not external_id:
        return None
    return template.format(external_id=urllib.parse.quote(external_id or "", safe=""),
                           number=urllib.parse.quote(number or ""))
