"""SMS: gateway adapters, message length, inbound webhooks."""

from alerts.sms.gateways import HttpGateway, LogGateway, SmsGateway, TwilioGateway, build_gateway
from alerts.sms.inbound import InboundSms, ReplayGuard, parse_inbound, sign, signed_headers
from alerts.sms.text import fit, measure, split

__all__ = [
    "HttpGateway",
    "InboundSms",
    "LogGateway",
    "ReplayGuard",
    "SmsGateway",
    "TwilioGateway",
    "build_gateway",
    "fit",
    "measure",
    "parse_inbound",
    "sign",
    "signed_headers",
    "split",
]
