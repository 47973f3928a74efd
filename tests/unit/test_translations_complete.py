"""Every string the UI shows has a Simplified Chinese translation, and pages use the person's language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from agent_ui.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("agent_ui/**.py", "python"), ("agent_ui/templates/**.html", "jinja2")]
OPTIONS = {"agent_ui/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def ui_strings() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def test_the_ui_has_strings_to_translate() -> None:
    strings = ui_strings()
    assert {"Queue", "Log out", "pending-customer"} <= strings


def test_every_ui_string_is_translated_into_chinese() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))
    }
    missing = sorted(ui_strings() - translated)
    assert not missing, f"untranslated in zh_CN (run pybabel extract/update and translate): {missing}"
