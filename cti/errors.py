"""How a PBX action can fail, each reported to the person who asked for it."""

from __future__ import annotations

from core.errors import FrontdeskError, Unavailable


class PbxRefused(FrontdeskError):
    """Asterisk answered ``Response: Error`` (e.g. "No such channel")."""

    status = 409
    error_id = "pbx-refused"


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
