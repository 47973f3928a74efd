"""Every string people see — pages, scripts, and the text the server writes (ticket subjects,
acknowledgements, alert messages) — is translated into every shipped language, and scripts carry
no English of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from agent_ui.base.i18n import LOCALE_DIR, shipped_languages, translate

ROOT = Path(__file__).resolve().parents[2]
METHODS = [
    ("agent_ui/**.py", "python"),
    ("agent_ui/**/templates/**.html", "jinja2"),
    # server-made text: subjects, acknowledgements, alert messages (``translate(language, "...")``)
    ("routing/**.py", "python"),
    ("channels/**.py", "python"),
    ("cti/**.py", "python"),
    ("alerts/**.py", "python"),
    ("privacy/**.py", "python"),
]
OPTIONS = {"agent_ui/**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "translate": (2,)}
LANGUAGES = ["zh_CN", "es"]


def server_texts() -> set[str]:
    """Built-in texts kept in constants (mailbox and alert defaults) and translated where used."""
    from alerts.messages import DEFAULT_SUBJECT, DEFAULT_TEXT
    from alerts.policies import TARGET_LABELS
    from channels.settings import DEFAULT_ACK_BODY, DEFAULT_ACK_SUBJECT

    return {DEFAULT_ACK_SUBJECT, DEFAULT_ACK_BODY, DEFAULT_TEXT, DEFAULT_SUBJECT, *TARGET_LABELS.values()}


def ui_strings() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found | server_texts()


# Messages of the errors people get back (API and error pages translate them, error_middleware.py)
ERROR_PACKAGES = [
    "core", "agent_ui", "channels", "routing", "cti", "alerts", "knowledge", "privacy", "config", "integrations",
]
ERROR_KEYWORDS = {name: None for name in (
    "InvalidInput", "NotAuthenticated", "Forbidden", "NotFound", "Conflict", "TooManyRequests", "Unavailable",
)}
# built from a list at run time: the details name the fields, programs read the error id
NOT_A_MESSAGE = {"send one or more of: , "}


def error_messages() -> set[str]:
    from cti.control import AMI_FIELDS

    found = {problem for _pattern, problem in AMI_FIELDS.values()} | {"something went wrong on the server"}
    for package in ERROR_PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), [("**.py", "python")], {}, ERROR_KEYWORDS, strip_comment_tags=True
        ):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found - NOT_A_MESSAGE


def catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


def translated(language: str) -> set[str]:
    return {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog(language)
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))
    }


def test_the_ui_has_strings_to_translate() -> None:
    strings = ui_strings()
    # a page word, a status, a script's word, a server-made subject and the acknowledgement mail
    assert {"Queue", "Log out", "pending-customer", "Incoming call", "Callback: %(detail)s"} <= strings
    assert server_texts() <= strings


def test_spanish_and_chinese_are_shipped() -> None:
    assert {"en", "zh_CN", "es"} <= set(shipped_languages())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_ui_string_is_translated(language: str) -> None:
    missing = sorted(ui_strings() - translated(language))
    assert not missing, f"untranslated in {language} (run pybabel extract/update and translate): {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_error_message_is_translated(language: str) -> None:
    messages = error_messages()
    assert {"no such ticket", "not an email address", "wrong login or password"} <= messages
    missing = sorted(messages - translated(language))
    assert not missing, f"error messages untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language: str) -> None:
    """A translation that drops or renames ``%(name)s``, ``{name}`` or a Jinja variable breaks the text."""
    pattern = re.compile(r"%\(\w+\)s|\{\w+\}|\{\{.*?\}\}")
    wrong = [
        m.id for m in catalog(language)
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
        and sorted(pattern.findall(m.id)) != sorted(pattern.findall(m.string))
    ]
    assert not wrong, f"{language}: placeholders differ in {wrong}"


def test_scripts_carry_no_english_of_their_own() -> None:
    """Words a script shows come from the page (``data-`` attributes or a JSON block rendered with
    ``_()``): no string literal in ``textContent``, ``confirm``, ``title`` or a notification."""
    shown = re.compile(
        r"""(?:textContent\s*[:=]|confirm\(|alert\(|title:|say\()\s*[^;\n]*?(["'])(\(?[A-Za-z][A-Za-z ,.!?'()-]+)\1"""
    )
    found = {
        f"{path.name}: {match.group(2)}"
        for path in (ROOT / "agent_ui" / "static").glob("*.js")
        for match in shown.finditer(path.read_text(encoding="utf-8"))
    }
    assert not found, f"English literals shown by scripts: {sorted(found)}"


def test_system_made_text_follows_the_customer() -> None:
    from routing.contact import call_subject, callback_detail, callback_subject, is_callback

    subject = callback_subject("+34600000000", "es")
    assert not subject.startswith("Callback")
    assert is_callback("voice", subject)
    assert callback_subject("+8613800138000", "zh").startswith(translate("zh_CN", "Callback: %(detail)s")[:2])
    assert call_subject(True, "+34600000000", "es-MX") == "Llamada de +34600000000"
    assert call_subject(False, None, None) == "Call to withheld number"
    assert callback_detail(None, True, "ventas", 12.4, "es") == "número oculto (tiempo de espera agotado en ventas tras 12 s)"


@pytest.mark.parametrize(("language", "words"), [(None, "overdue by 2h 5m"), ("es", "vencido hace 2 h 5 min"),
                                                 ("zh_CN", "已超时 2小时 5分钟")])
async def test_the_built_in_sla_alert_speaks_the_recipients_language(language: str | None, words: str) -> None:
    from datetime import UTC, datetime, timedelta

    from alerts.messages import AlertMessages
    from alerts.settings import LevelDefinition
    from core.records import Ticket
    from core.template_workers import TemplateRenderer

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ticket = Ticket(id=7, subject="No internet", status="open", priority=2, category="complaint",
                    channel="email", queue="support", created_at=now, updated_at=now)
    renderer = TemplateRenderer(workers=1)
    try:
        messages = AlertMessages(renderer, "https://desk.example")
        context = messages.context(ticket, {"name": "Ana"}, "first_response", now - timedelta(hours=4),
                                   now - timedelta(hours=2, minutes=5), now, 0, language=language)
        texts = await messages.level_texts(LevelDefinition.model_validate({"at": "+0", "channels": ["sms"], "recipients": ["assignee"]}), context, "level 1")
    finally:
        await renderer.close()
    assert words in texts.sms and words in texts.body
    assert texts.sms.endswith("https://desk.example/tickets/7")
    assert translate(language, "first response") in texts.subject
    assert texts.failures == []


@pytest.mark.parametrize(("text", "language"), [
    ("Hola, mi pedido no ha llegado. ¿Pueden ayudarme? Gracias", "es"),
    ("Buenos días: necesito la factura del mes pasado para la empresa", "es"),
    ("你好，我的订单还没有到。", "zh_CN"),
    ("No, I have no idea why my order no. 12 has no tracking. No reply yet.", None),
    ("Hello, where is my parcel? Thanks, Sam (sent from La Paz)", None),
    ("", None),
])
def test_a_new_customers_language_is_guessed_from_their_mail(text: str, language: str | None) -> None:
    from agent_ui.base.i18n import guess_language

    assert guess_language(text) == language
