"""Adding a language is adding a .po file: it is read at start-up, no compile step."""

from __future__ import annotations

from pathlib import Path

import jinja2

from agent_ui.base.i18n import LOCALE_DIR, Localizer

ZH_PO = r'''
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\n"
"Language: zh_CN\n"

msgid "Queue"
msgstr "队列"

msgid "open"
msgstr "处理中"

#, fuzzy
msgid "Log out"
msgstr "退出(未审校)"
'''


def write_catalog(root: Path, language: str, text: str) -> None:
    folder = root / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(text, encoding="utf-8")


def test_a_chinese_catalog_translates_templates_per_render(tmp_path: Path) -> None:
    write_catalog(tmp_path, "zh_CN", ZH_PO)
    localizer = Localizer(tmp_path, default_language="en")
    env = jinja2.Environment(autoescape=True)
    localizer.install(env)
    template = env.from_string('{{ _("Queue") }}|{% trans %}Queue{% endtrans %}|{{ _(status) }}|{{ _("Log out") }}')
    assert template.render(lang="zh_CN", status="open") == "队列|队列|处理中|Log out"  # fuzzy is not used
    assert template.render(lang="en", status="open") == "Queue|Queue|open|Log out"


def test_language_choice_falls_back_sensibly(tmp_path: Path) -> None:
    write_catalog(tmp_path, "zh_CN", ZH_PO)
    localizer = Localizer(tmp_path, default_language="zh-CN")
    assert localizer.languages == ["en", "zh_CN"]
    assert localizer.pick("zh-CN") == "zh_CN"
    assert localizer.pick("en") == "en"
    assert localizer.pick(None) == "zh_CN"  # the site default
    assert localizer.pick("fr") == "zh_CN"
    assert Localizer(tmp_path, default_language="de").pick("fr") == "en"


def test_a_broken_catalog_does_not_stop_the_server(tmp_path: Path) -> None:
    write_catalog(tmp_path, "zh_CN", 'msgid "x"\nmsgstr "unterminated\n')
    localizer = Localizer(tmp_path)
    assert localizer.translations("zh_CN").gettext("Queue") == "Queue"


def test_the_template_catalog_is_shipped() -> None:
    pot = (LOCALE_DIR / "messages.pot").read_text(encoding="utf-8")
    for msgid in ("Queue", "Unknown login or wrong password.", "pending-customer"):
        assert f'msgid "{msgid}"' in pot
