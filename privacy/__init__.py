"""Privacy: who viewed which record, contact details masked by role, subject access export,
erasure, and retention of closed tickets' contents and call records."""

from privacy.erasure import ErasureResult, erase_customer
from privacy.holdings import Holdings, customer_holdings
from privacy.subject_export import export_customer

__all__ = [
    "ErasureResult",
    "Holdings",
    "customer_holdings",
    "erase_customer",
    "export_customer",
]
