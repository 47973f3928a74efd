"""One exception class per error, each carrying an HTTP status and a stable id.

The API, the pages and the CLI all report failures from these, so a refusal reads
the same everywhere (the habit of wazo-calld's ``exceptions.py``).
"""

from __future__ import annotations

from typing import Any


class FrontdeskError(Exception):
    status = 500
    error_id = "internal-error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error_id, "message": self.message, "details": self.details}


class InvalidInput(FrontdeskError):
    status = 400
    error_id = "invalid-input"


class NotAuthenticated(FrontdeskError):
    status = 401
    error_id = "not-authenticated"


class Forbidden(FrontdeskError):
    status = 403
    error_id = "forbidden"


class NotFound(FrontdeskError):
    status = 404
    error_id = "not-found"


class Conflict(FrontdeskError):
    status = 409
    error_id = "conflict"


class TooManyRequests(FrontdeskError):
    status = 429
    error_id = "too-many-requests"


class Unavailable(FrontdeskError):
    status = 503
    error_id = "unavailable"
