"""How long each text field at the web edge may be, declared once.

The JSON and form readers (``agent_ui.base.inputs``) enforce these, the OpenAPI document
(``agent_ui.api.openapi``) publishes them as ``maxLength`` and the HTML forms as ``maxlength``,
so a client learns the limit from the same number the server applies. A cap comes from the
database column where there is one: PostgreSQL refuses a longer value with an error that
would otherwise surface as a 500, and SQLite would silently store it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from channels.replies import MAX_BODY_CHARS
from core.records import ApiToken, Customer, CustomerPhone, Ticket, User
from knowledge.drafts import ArticleDraft, TemplateDraft

# Any string anywhere in a request without a cap of its own (the largest text a service
# accepts, a knowledge article, is 200,000 characters).
TEXT_CAP = 200_000
NOTE_CAP = 20_000
# A password is hashed with argon2 on every login: its length is CPU time.
PASSWORD_CAP = 200
# Before normalisation a phone number may carry spaces, dashes and an extension.
RAW_PHONE_CAP = 64


def column_length(column: Any) -> int:
    length = column.type.length
    assert isinstance(length, int), f"{column} has no length"
    return length


def model_caps(model: type[BaseModel]) -> dict[str, int]:
    """The text fields' ``max_length`` of a pydantic model that already validates an input."""
    caps: dict[str, int] = {}
    for name, field in model.model_fields.items():
        if field.annotation is str:
            for rule in field.metadata:  # Field(max_length=...) becomes a MaxLen rule
                length = getattr(rule, "max_length", None)
                if isinstance(length, int):
                    caps[name] = length
    return caps


_SUBJECT = column_length(Ticket.subject)
_CHOICE = column_length(Ticket.status)  # status, priority and category names
_QUEUE = column_length(Ticket.queue)
_LANGUAGE = column_length(Customer.language)
_URL = 8_190  # the longest request line aiohttp reads

# Per input schema (named as in the OpenAPI document): field -> most characters. A list
# field's cap applies to each of its strings.
CAPS: dict[str, dict[str, int]] = {
    "TicketDraft": {"subject": _SUBJECT, "body": MAX_BODY_CHARS, "priority": _CHOICE,
                    "category": _CHOICE, "queue": _QUEUE},
    "TicketPatch": {"subject": _SUBJECT, "status": _CHOICE, "priority": _CHOICE, "category": _CHOICE,
                    "queue": _QUEUE, "tag": 80},
    "NoteDraft": {"text": NOTE_CAP},
    "TicketTagDraft": {"tag": 80},
    "TicketMerge": {"into_id": 25, "into": 25},
    "TicketSplit": {"entry_id": 25},
    "CustomerDraft": {"name": column_length(Customer.name), "tier": column_length(Customer.tier),
                      "language": _LANGUAGE, "external_id": column_length(Customer.external_id),
                      "notes": NOTE_CAP, "phones": RAW_PHONE_CAP,
                      "emails": column_length(User.email), "tags": 80,
                      "tier_reason": column_length(Customer.tier_reason)},
    "CustomerSync": {"name": column_length(Customer.name), "language": _LANGUAGE, "notes": NOTE_CAP,
                     "phones": RAW_PHONE_CAP, "emails": column_length(User.email), "tags": 80,
                     "tier_override": column_length(Customer.tier), "tier_reason": column_length(Customer.tier_reason)},
    "UserDraft": {"login": column_length(User.login), "password": PASSWORD_CAP,
                  "display_name": column_length(User.display_name), "extension": column_length(User.extension),
                  "pbx_interface": column_length(User.pbx_interface), "email": column_length(User.email),
                  "mobile": column_length(User.mobile), "language": column_length(User.language), "skills": 80,
                  "working_hours": column_length(User.working_hours)},
    "PasswordChange": {"current": PASSWORD_CAP, "new": PASSWORD_CAP, "repeat": PASSWORD_CAP, "token": 100},
    "TokenDraft": {"name": column_length(ApiToken.name), "login": column_length(User.login), "password": PASSWORD_CAP},
    # A reply's subject gets the ticket's tag ("[#1042] ") in front before it is stored.
    "ReplyDraft": {"subject": _SUBJECT - 20, "body": MAX_BODY_CHARS, "to": column_length(User.email),
                   "cc": 4000, "bcc": 4000, "format": 20, "template_id": 25, "csrf_token": 200},
    "ComposerDraft": {"subject": _SUBJECT - 20, "body": MAX_BODY_CHARS, "to": column_length(User.email),
                      "cc": 4000, "bcc": 4000},
    "TemplateDraft": model_caps(TemplateDraft),
    "ArticleDraft": model_caps(ArticleDraft),
    "CallerDraft": {"name": column_length(Customer.name), "number": RAW_PHONE_CAP},
    "LanguageChoice": {"language": _LANGUAGE, "next": _URL},
    "Login": {"login": column_length(User.login), "password": PASSWORD_CAP, "next": _URL},
}
assert column_length(CustomerPhone.e164) <= RAW_PHONE_CAP


def cap_of(schema: str | None, field: str) -> int:
    return CAPS.get(schema or "", {}).get(field, TEXT_CAP)
