"""Each message catalogue holds each message once: catalogues merge by union across branches
(.gitattributes), and a message added on two branches would otherwise be there twice, with
whichever translation the reader meets last."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "agent_ui" / "locale"
CATALOGUES = sorted([LOCALE / "messages.pot", *LOCALE.glob("*/LC_MESSAGES/messages.po")])
ENTRY = re.compile(r'^(msgctxt (?:".*"\n)+)?msgid ((?:".*"\n)+)', re.M)


def _ids(text: str) -> list[tuple[str, str]]:
    return [("".join(re.findall(r'"(.*)"', context)), "".join(re.findall(r'"(.*)"', msgid)))
            for context, msgid in ENTRY.findall(text)]


def test_the_entry_reader_sees_every_message() -> None:
    text = 'msgid ""\nmsgstr ""\n\nmsgid "Email"\nmsgstr "Correo"\n\nmsgctxt "verb"\nmsgid "Link"\nmsgstr ""\n\nmsgid ""\n"two "\n"lines"\nmsgstr ""\n'
    assert _ids(text) == [("", ""), ("", "Email"), ("verb", "Link"), ("", "two lines")]


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: str(p.relative_to(LOCALE)))
def test_each_message_is_in_the_catalogue_once(catalogue: Path) -> None:
    counts = collections.Counter(key for key in _ids(catalogue.read_text(encoding="utf-8")) if key[1])
    assert [key for key, n in counts.items() if n > 1] == []
