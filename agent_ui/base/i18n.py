"""UI translations: gettext catalogs read from ``agent_ui/locale/<lang>/LC_MESSAGES/*.po``
(English is the source; ``zh_CN`` and ``es`` are shipped).

The ``.po`` files are compiled in memory with Babel at start-up, so adding a language
is adding one ``.po`` file (see ``agent_ui/babel.cfg``); no compile step.
Templates use ``{% trans %}``/``_()``; the language is the user's, else ``web.default_language``.
Scripts carry no words of their own: pages hand them translated words (``data-`` attributes,
JSON blocks). Text the server writes outside a page (ticket subjects, acknowledgements, alert
messages) goes through ``translate(language, ...)`` in the reader's language.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
import re
from pathlib import Path
from typing import Any

from babel.core import UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent.parent / "locale"  # agent_ui/locale, where pybabel writes
DEFAULT_LANGUAGE = "en"


def shipped_languages(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """The languages we ship: English and every catalog under ``locale/`` (the one list;
    settings validation and the language switcher both read it)."""
    return sorted({"en", *(p.parent.parent.name for p in locale_dir.glob("*/LC_MESSAGES/*.po"))})


def normalize_language(tag: str | None) -> str:
    return (tag or "").strip().replace("-", "_")


class Localizer:
    def __init__(self, locale_dir: Path = LOCALE_DIR, default_language: str = "en") -> None:
        self.default_language = normalize_language(default_language) or "en"
        self._catalogs: dict[str, gettext.NullTranslations] = {}
        for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
            language = po_path.parent.parent.name
            try:
                self._catalogs[language] = self._load(po_path, language)
            except Exception:  # a broken catalog must not stop the server; English still works
                log.exception("cannot read translation catalog %s", po_path)

    @staticmethod
    def _load(po_path: Path, language: str) -> gettext.NullTranslations:
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return Translations(fp=buffer)

    @property
    def languages(self) -> list[str]:
        return sorted({"en", *self._catalogs})

    def pick(self, *preferences: str | None) -> str:
        """The first preferred language we have (``zh-CN`` → ``zh_CN`` → ``zh``; a bare ``zh`` or
        ``es_MX`` finds ``zh_CN`` or ``es``), else the default."""
        for tag in (*preferences, self.default_language):
            name = normalize_language(tag)
            base = name.split("_")[0]
            for candidate in (name, base):
                if candidate and (candidate in self._catalogs or candidate == "en"):
                    return candidate
            regional = sorted(c for c in self._catalogs if base and c.split("_")[0] == base)
            if regional:
                return regional[0]
        return "en"

    def translations(self, language: str) -> gettext.NullTranslations:
        return self._catalogs.get(language) or gettext.NullTranslations()

    def install(self, env: Environment) -> None:
        """Jinja's i18n extension, translating into the ``lang`` of each render's context."""
        env.add_extension("jinja2.ext.i18n")

        @pass_context
        def _gettext(context: Context, message: str) -> str:
            return self.translations(context.get("lang", "en")).gettext(message)

        @pass_context
        def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
            return self.translations(context.get("lang", "en")).ngettext(singular, plural, n)

        env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]

    def gettext(self, language: str, message: str, **variables: Any) -> str:
        text = self.translations(language).gettext(message)
        return text % variables if variables else text


@functools.cache
def system_localizer() -> Localizer:
    """The catalogs for text the server writes outside a page (ticket subjects, acknowledgements,
    alert messages): read once per process, the same ``.po`` files the pages use."""
    return Localizer()


def translate(language: str | None, message: str, **variables: Any) -> str:
    """``message`` in ``language`` (``es-MX`` → ``es``; unknown → English), ``%(name)s`` filled in."""
    localizer = system_localizer()
    picked = localizer.pick(language) if language else DEFAULT_LANGUAGE
    return localizer.gettext(picked, message, **variables)


def format_number(value: float | int, language: str | None) -> str:
    """A number as the reader writes it (``1,234.5``, ``1.234,5``)."""
    try:
        return format_decimal(value, locale=system_localizer().pick(language) if language else DEFAULT_LANGUAGE)
    except (UnknownLocaleError, ValueError):
        return str(value)


_CJK = re.compile(r"[\u3400-\u9fff]")
_SPANISH = re.compile(
    r"[ñ¿¡]|\b(?:hola|gracias|por favor|buenos|buenas|quiero|necesito|pedido|factura|ayuda|usted|estoy|"
    r"tengo|el|la|los|las|una|para|con|que|del|está|cuando)\b",
    re.IGNORECASE,
)


def guess_language(text: str) -> str | None:
    """A shipped language a customer's mail is probably written in (``zh_CN``, ``es``), or ``None`` for
    English or unknown: enough to answer a new customer in their language until someone sets it."""
    sample = text[:2000]
    if len(_CJK.findall(sample)) >= 2:
        return "zh_CN"
    if len(_SPANISH.findall(sample)) >= 3:
        return "es"
    return None
