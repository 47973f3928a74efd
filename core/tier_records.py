"""The tier rules an admin defines: ordered, each a set of conditions and the tier it gives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.records import Base


class TierRuleRecord(Base):
    """One rule; the first rule (by ``position``) whose conditions all hold gives the tier.
    ``conditions`` is the list ``core.tier_rules.parse_conditions`` checks."""

    __tablename__ = "tier_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tier: Mapped[str] = mapped_column(String(20))
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
