"""The one queue: the routing seam and the ticket desk."""

from routing.contact import Contact, Decision, callback_subject, is_callback
from routing.desk import (
    Accepted,
    TicketChange,
    TicketDesk,
    TicketFilter,
    TicketHook,
    entry_dict,
    ticket_dict,
)
from routing.history import ticket_id_of
from routing.policy import DefaultPolicy, RoutingPolicy
from routing.settings import RoutingSettings

__all__ = [
    "Accepted",
    "Contact",
    "Decision",
    "DefaultPolicy",
    "RoutingPolicy",
    "RoutingSettings",
    "TicketChange",
    "TicketDesk",
    "TicketFilter",
    "TicketHook",
    "callback_subject",
    "entry_dict",
    "is_callback",
    "ticket_dict",
    "ticket_id_of",
]
