"""alerts: SLA policies, business calendars, the SLA clock, scanner, escalation ladder, SMS."""

from alerts.calendar import AlwaysOpen, BusinessCalendar, WorkingTime
from alerts.policies import Policy, PolicyBook, PolicyStore, is_callback
from alerts.scanner import SlaScanner
from alerts.service import SlaService
from alerts.sla_clock import SlaClock

__all__ = [
    "AlwaysOpen",
    "BusinessCalendar",
    "Policy",
    "PolicyBook",
    "PolicyStore",
    "SlaClock",
    "SlaScanner",
    "SlaService",
    "WorkingTime",
    "is_callback",
]
