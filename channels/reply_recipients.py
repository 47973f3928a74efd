"""Who a reply goes to: one To address, and Cc and Bcc lists, each checked before anything is queued.

Agents type Cc and Bcc the way mail programs accept them (``a@x.com, b@y.com``, with ``;``
or spaces too), so lists are split here rather than in the browser; To stays one address. Every address must
be one plain addr-spec (``channels.addresses.is_addr_spec``): no display names and no line
separators, so nothing typed can add a header. Every bad address is reported at once, each
with the field it is in, so the composer can mark the field rather than make the agent guess.
Bcc addresses travel on the SMTP envelope only; they never become a header.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from channels.addresses import is_addr_spec, recipient_address, refuse_line_separators
from core.errors import InvalidInput

# A reply to a crowd is a mailing, not support: keep copies to a number a person types.
MAX_COPIES = 20
_SEPARATORS = re.compile(r"[,;\s]+")
FIELDS = ("to", "cc", "bcc")


@dataclasses.dataclass(frozen=True, slots=True)
class ReplyRecipients:
    to: str | None  # None: whoever wrote the ticket's last email (or the customer's first address)
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()


def split_addresses(value: str | Iterable[str] | None) -> list[str]:
    """The addresses in what the agent typed (a list from the API is split the same way)."""
    if value is None:
        return []
    texts = [value] if isinstance(value, str) else list(value)
    return [part for text in texts for part in _SEPARATORS.split(text) if part]


def _problem(field: str, value: str, message: str) -> dict[str, str]:
    return {"field": field, "value": value[:320], "message": message}


def check_recipients(to: str | None, cc: str | Iterable[str] | None = None,
                     bcc: str | Iterable[str] | None = None) -> ReplyRecipients:
    """The checked recipients, or ``InvalidInput``.

    To is exactly one address, as it always was (``details`` then just name the field). A line
    separator anywhere is refused before any splitting, naming its field. Cc and Bcc report every
    bad address at once: ``details.field`` is the first field with a problem and
    ``details.errors`` lists each bad address with its field."""
    chosen = recipient_address(to, "to") if to is not None else None
    texts = {field: [value] if isinstance(value, str) else list(value or []) for field, value in (("cc", cc), ("bcc", bcc))}
    for field, values in texts.items():
        for value in values:
            refuse_line_separators({field: value})
    problems: list[dict[str, str]] = []
    lists: dict[str, list[str]] = {}
    for field, values in texts.items():
        addresses = split_addresses(values)
        for address in addresses:
            if not is_addr_spec(address):
                problems.append(_problem(field, address, "not an email address (name@example.com)"))
        lists[field] = list(dict.fromkeys(a.lower() for a in addresses))
    if len(lists["cc"]) + len(lists["bcc"]) > MAX_COPIES:
        problems.append(_problem("cc", "", "too many addresses in Cc and Bcc"))
    if problems:
        raise InvalidInput("some addresses are not valid",
                           {"field": problems[0]["field"], "errors": problems, "max_copies": MAX_COPIES})
    main = chosen.lower() if chosen else None
    cc_list = [a for a in lists["cc"] if a != main]
    bcc_list = [a for a in lists["bcc"] if a != main and a not in cc_list]
    return ReplyRecipients(chosen, tuple(cc_list), tuple(bcc_list))
