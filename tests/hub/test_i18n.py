"""Every message on the hub's pages has its Chinese text."""

from __future__ import annotations

import re
from pathlib import Path

from hub.web.i18n import translator
from hub.web.cases import STATUS_TEXT

HUB = Path(__file__).resolve().parents[2] / "hub"
MESSAGE = re.compile(r"""\b_\(\s*((?:"[^"]*"\s*)+)""")


def messages() -> list[str]:
    found = []
    for path in [*HUB.glob("*.py"), *(HUB / "templates").glob("*.html")]:
        for match in MESSAGE.finditer(path.read_text(encoding="utf-8")):
            found.append("".join(re.findall(r'"([^"]*)"', match.group(1))))
    return found


def test_every_page_message_has_chinese():
    found = messages()
    assert len(found) > 40
    assert translator.missing(found + list(STATUS_TEXT.values())) == []
