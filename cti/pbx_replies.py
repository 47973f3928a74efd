"""What Asterisk's refusals mean, in words people read (and the catalogs translate).

The PBX answers in its own English ("Member not dynamic", "Unable to remove interface: Not
there"), which means nothing to an agent and is never translated. A refusal keeps the PBX's
text for logs and API clients (``details.pbx_message``) and tells people one of these.
"""

from __future__ import annotations

import re


def N_(message: str) -> str:
    """Marked for the catalogs; translated where it is shown (the error middleware)."""
    return message


REFUSED = N_("the phone system refused the request")
_PLAIN = {
    "member not dynamic": N_("this phone is a permanent member of the queue: it cannot be logged in or out here"),
    "unable to remove interface: not there": N_("this phone is not logged in to the queue"),
    "unable to add interface: already there": N_("this phone is already logged in to the queue"),
    "unable to add interface to queue: no such queue": N_("the phone system has no such queue"),
    "interface not found": N_("this phone is not in any queue"),
    "no such channel": N_("the call is no longer there"),
    "permission denied": N_("the phone system does not allow this"),
}
_ACTION_FAILED = re.compile(r"^\w+ failed \(reason [^)]*\)$")


def plain_refusal(pbx_message: str) -> str:
    """The people's words for a PBX refusal; a generic one for anything not known."""
    text = " ".join(pbx_message.split()).lower()
    if text in _PLAIN:
        return _PLAIN[text]
    if _ACTION_FAILED.match(pbx_message.strip()):
        return N_("the phone system could not place the call")
    return REFUSED
