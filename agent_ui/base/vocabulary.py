"""Words the pages show from data (statuses, priorities, channels, ...), listed so
``pybabel extract`` puts them in the catalog; templates translate them with ``_(value)``."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


WORDS = (
    # ticket statuses and the queue's status filters
    N_("new"), N_("open"), N_("pending-customer"), N_("solved"), N_("closed"), N_("all"),
    # priorities
    N_("low"), N_("normal"), N_("high"), N_("urgent"),
    # categories
    N_("complaint"), N_("inquiry"), N_("suggestion"), N_("other"),
    # channels
    N_("voice"), N_("email"), N_("sms"), N_("web"),
    # customer tiers
    N_("vip"), N_("standard"),
    # call directions and outcomes
    N_("inbound"), N_("outbound"), N_("answered"), N_("abandoned"), N_("missed"),
    N_("timeout"), N_("no-answer"), N_("busy"),
    # deliveries of alerts and mail
    N_("pending"), N_("sent"), N_("failed"),
)
