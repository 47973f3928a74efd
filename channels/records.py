"""Tables owned by this package (on the shared ``core.records.Base``)."""

from __future__ import annotations
