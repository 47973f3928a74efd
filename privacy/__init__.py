"""Privacy: who viewed which record, contact details masked by role, subject access export,
erasure, and retention of closed tickets' contents and call records."""

from privacy.erasure import ErasureResult, erase_customer
from privacy.holdings import Holdings, customer_holdings
from privacy.keys import VIEW_LOG
from privacy.subject_export import export_customer
from privacy.view_log import ViewFilter, ViewLog, ViewRow, find_views

__all__ = [
    "VIEW_LOG",
    "ErasureResult",
    "Holdings",
    "ViewFilter",
    "ViewLog",
    "ViewRow",
    "customer_holdings",
    "erase_customer",
    "export_customer",
    "find_views",
]
