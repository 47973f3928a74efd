"""Every feature keeps its own templates and static files; these checks keep the pieces
findable: no two features ship the same name (one would silently shadow the other), and
every template or ``/static/`` file the code and templates name exists in some feature."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from agent_ui.app import FEATURE_ASSETS, OWN_SCRIPTS, asset_dirs

AGENT_UI = Path(__file__).resolve().parents[2] / "agent_ui"
TEMPLATE_NAME = re.compile(r"""(?:render|render_string|get_template)\(\s*["']([\w/.-]+\.html)["']""")
TEMPLATE_REFERENCE = re.compile(r"""\{%-?\s*(?:extends|include|import|from)\s+["']([\w/.-]+)["']""")
STATIC_REFERENCE = re.compile(r"""/static/([\w.-]+\.\w+)""")


def shipped(kind: str) -> list[str]:
    return [str(path.relative_to(folder)) for folder in asset_dirs(kind) for path in folder.rglob("*") if path.is_file()]


def test_no_two_features_ship_the_same_template_or_static_file() -> None:
    for kind in ("templates", "static"):
        twice = [name for name, count in Counter(shipped(kind)).items() if count > 1]
        assert twice == [], f"{kind} shipped by two features: {twice}"


def test_every_template_named_exists() -> None:
    templates = set(shipped("templates"))
    named = {m for path in AGENT_UI.rglob("*.py") for m in TEMPLATE_NAME.findall(path.read_text())}
    named |= {m for path in AGENT_UI.rglob("*.html") for m in TEMPLATE_REFERENCE.findall(path.read_text())}
    assert named, "the patterns found no template names"
    assert sorted(named - templates) == []


def test_every_static_file_referenced_exists() -> None:
    files = set(shipped("static"))
    referenced = {m for path in AGENT_UI.rglob("*.html") for m in STATIC_REFERENCE.findall(path.read_text())}
    referenced |= {*OWN_SCRIPTS, "console.css"}
    assert sorted(referenced - files) == []
    assert any(f"{name}.js" in files for name in FEATURE_ASSETS)
