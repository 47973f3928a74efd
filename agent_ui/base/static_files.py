"""``/static/<name>`` served from every feature's own ``static/`` folder.

Each feature package keeps its scripts and styles next to its views, yet the public URLs
stay flat (``/static/cti.js``): templates, scripts and browser caches keep working when a
file moves between features. Two features shipping the same file name is refused at
start-up rather than one silently shadowing the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aiohttp import web


class StaticFiles:
    """The files under ``/static/``, by name, gathered once from the features' folders."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.files: dict[str, Path] = {}
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if not path.is_file():
                    continue
                if path.name in self.files:
                    raise ValueError(f"static/{path.name} is shipped by {self.files[path.name].parent} and {folder}")
                self.files[path.name] = path

    def has(self, name: str) -> bool:
        return name in self.files

    async def serve(self, request: web.Request) -> web.FileResponse:
        path = self.files.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/static/{name}", self.serve, name="static")
