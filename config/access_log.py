"""The access log without secrets: token values in URLs become ``[redacted]``.

A TV opens ``/wallboard?token=...``; that URL reaches aiohttp's access log (the request
line, and the ``Referer`` of every asset the page loads) and, percent-encoded, the
``next=`` of a login redirect. Log files travel further than the config file does, so
every ``...token=`` value is cut out of each access-log line before it is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

from aiohttp.web_log import AccessLogger

# ``token=``, ``wallboard_token=``, ``csrf_token=`` … after ``?``/``&`` (or their %-encodings
# inside another parameter); the value runs to the next parameter, space or quote.
_SECRET_PARAM = re.compile(r"(?i)((?:[?&;]|%3f|%26)[a-z0-9_.-]*token(?:=|%3d))(?:(?!%26)[^&\s\"'])*")


def redact_url_secrets(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class _Redacting(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra")
        if isinstance(extra, dict):
            kwargs["extra"] = {k: _redact_value(v) for k, v in extra.items()}
        return redact_url_secrets(str(msg)), kwargs


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url_secrets(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    return value


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access log, formatted as usual, with URL secrets cut out."""

    def __init__(self, logger: logging.Logger, log_format: str = AccessLogger.LOG_FORMAT) -> None:
        super().__init__(_Redacting(logger, {}), log_format)  # type: ignore[arg-type]
