"""How a PBX action can fail, each reported to the person who asked for it."""

from __future__ import annotations

from typing import Any

from core.errors import FrontdeskError, Unavailable
from cti.pbx_replies import plain_refusal


class PbxRefused(FrontdeskError):
    """Asterisk answered ``Response: Error`` (e.g. "No such channel").

    ``message`` is the PBX's own text (logs, tests); people are told it in plain words
    (``cti.pbx_replies``), with the PBX's text kept in ``details.pbx_message``.
    """

    status = 409
    error_id = "pbx-refused"

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": plain_refusal(self.message),
                "details": {**self.details, "pbx_message": self.message}}


class PbxTimeout(Unavailable):
    """No answer before the action's deadline; the action may or may not have run."""

    status = 504
    error_id = "pbx-timeout"


class PbxLinkDown(Unavailable):
    """The link was down, or dropped while the action was pending; it is never re-sent."""

    error_id = "pbx-link-down"


class PbxLoginFailed(FrontdeskError):
    status = 502
    error_id = "pbx-login-failed"
