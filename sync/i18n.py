"""Page language: Simplified Chinese by default, English on request.

Each server keeps its own catalog (English message id -> Chinese text); this
module holds only the choosing and looking up both servers share.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "lang"


def choose_language(query_value: str | None, cookie_value: str | None) -> str:
    """The language for this request: an explicit ?lang=, then the cookie, then Chinese."""
    for candidate in (query_value, cookie_value):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


class Translator:
    """Looks English message ids up in a Chinese catalog; English is the id itself."""

    def __init__(self, zh_catalog: Mapping[str, str]):
        self._zh = dict(zh_catalog)

    def gettext(self, language: str, message: str, **values: object) -> str:
        text = self._zh.get(message, message) if language == "zh" else message
        return text.format(**values) if values else text

    def missing(self, messages: list[str]) -> list[str]:
        """Message ids with no Chinese text (a test keeps this empty)."""
        return [m for m in messages if m not in self._zh]
