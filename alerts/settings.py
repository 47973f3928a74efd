"""Settings of SLA policies and the SMS gateway."""

from __future__ import annotations

from pydantic import Field

from core.section import Section


class SlaSettings(Section):
    email_first_response_hours: float = Field(12.0, gt=0)
    enabled: bool = True
