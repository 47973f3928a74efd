"""Privacy: who viewed which record, contact details masked by role, subject access export,
erasure, and retention of closed tickets' contents and call records."""

from privacy.erasure import ErasureResult, erase_customer
from privacy.holdings import Holdings, customer_holdings, find_customer
from privacy.keys import PRIVACY_POLICY, VIEW_LOG
from privacy.policy import (
    PolicyCache,
    PrivacySettings,
    parse_settings,
    read_settings,
    save_settings,
)
from privacy.retention import RetentionCount, dry_run, run_retention
from privacy.subject_export import export_customer
from privacy.view_log import ViewFilter, ViewLog, ViewRow, find_views

__all__ = [
    "PRIVACY_POLICY",
    "VIEW_LOG",
    "ErasureResult",
    "Holdings",
    "PolicyCache",
    "PrivacySettings",
    "RetentionCount",
    "ViewFilter",
    "ViewLog",
    "ViewRow",
    "customer_holdings",
    "dry_run",
    "erase_customer",
    "export_customer",
    "find_customer",
    "find_views",
    "parse_settings",
    "read_settings",
    "run_retention",
    "save_settings",
]
