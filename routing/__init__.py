"""The one queue: the routing seam and the ticket desk."""

from routing.contact import Contact, Decision, callback_subject, is_callback
from routing.desk import Accepted, TicketChange, TicketDesk, TicketHook
from routing.engine import RuleEngine
from routing.history import ticket_id_of
from routing.policy import RoutingPolicy, RulesPolicy
from routing.rules import RuleSet, parse_rules
from routing.settings import RoutingSettings
from routing.ticket_listing import TicketFilter, entry_dict, ticket_dict

__all__ = [
    "Accepted",
    "Contact",
    "Decision",
    "RoutingPolicy",
    "RoutingSettings",
    "RuleEngine",
    "RuleSet",
    "RulesPolicy",
    "TicketChange",
    "TicketDesk",
    "TicketFilter",
    "TicketHook",
    "callback_subject",
    "entry_dict",
    "is_callback",
    "parse_rules",
    "ticket_dict",
    "ticket_id_of",
]
