"""Settings of outbound webhooks (``webhooks:`` in the config file)."""

from __future__ import annotations

from pydantic import Field

from core.section import Section


class WebhookSettings(Section):
    allow_private_targets: bool = Field(
        default=False,
        description="deliver to loopback, private and link-local addresses (a CRM on the same network)",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="seconds a receiver has to answer")
    max_attempts: int = Field(default=8, ge=1, le=30, description="tries before a delivery is given up")
    retry_base_s: float = Field(default=10.0, gt=0, description="first retry after this; doubles each time")
    retry_max_s: float = Field(default=3600.0, gt=0, description="longest wait between two tries")
    log_keep: int = Field(default=200, ge=10, le=10_000, description="delivery attempts kept per subscription")
    workers: bool = Field(default=True, description="run the delivery worker in this instance")
