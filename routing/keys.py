"""Typed key under which the assignment service lives on the web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from routing.assignment import Assignment

ASSIGNMENT: web.AppKey[Assignment] = web.AppKey("routing.assignment")
