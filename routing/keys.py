"""Typed keys under which the assignment service and the presence book live on the web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from routing.assignment import Assignment
    from routing.presence_book import PresenceBook

ASSIGNMENT: web.AppKey[Assignment] = web.AppKey("routing.assignment")
PRESENCE_BOOK: web.AppKey[PresenceBook] = web.AppKey("routing.presence_book")
