"""``/static/<name>`` served from every feature's own ``static/`` folder.

Each feature package keeps its scripts and styles next to its views, yet the public URLs
stay flat (``/static/cti.js``): templates, scripts and browser caches keep working when a
file moves between features. Two features shipping the same file name is refused at
start-up rather than one silently shadowing the other. Third-party files shipped as they are
(with their licences) sit in a feature's ``static/vendor/`` and are served as
``/static/vendor/<name>``.
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
            vendor = folder / "vendor"
            for path in sorted(vendor.iterdir()) if vendor.is_dir() else ():
                name = f"vendor/{path.name}"
                if not path.is_file():
                    continue
                if name in self.files:
                    raise ValueError(f"static/{name} is shipped by {self.files[name].parent} and {vendor}")
                self.files[name] = path

    def has(self, name: str) -> bool:
        return name in self.files

    async def serve(self, request: web.Request) -> web.FileResponse:
        return self._file(request.match_info["name"])

    async def serve_vendor(self, request: web.Request) -> web.FileResponse:
        return self._file("vendor/" + request.match_info["name"])

    def _file(self, name: str) -> web.FileResponse:
        path = self.files.get(name)
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/static/{name}", self.serve, name="static")
        app.router.add_get("/static/vendor/{name}", self.serve_vendor, name="static-vendor")
