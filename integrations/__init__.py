"""The systems around us: signed outbound webhooks for ticket, call, rating and customer events.

Subscriptions (``subscriptions``) say where to send which events; the bus feed (``feed``)
turns domain events into outbox rows of channel ``webhook`` (``deliveries``); the shared
outbox worker sends them with ``sender``, signed as ``signing`` describes, and each attempt
goes to the subscription's delivery log.
"""

from integrations.keys import WEBHOOKS
from integrations.settings import WebhookSettings
from integrations.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    verify,
)
from integrations.subscriptions import EVENT_TYPES, TEST_EVENT, attempt_dict, subscription_dict
from integrations.wiring import Webhooks

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPES",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "TEST_EVENT",
    "WEBHOOKS",
    "WebhookSettings",
    "Webhooks",
    "attempt_dict",
    "signature_header",
    "subscription_dict",
    "verify",
]
