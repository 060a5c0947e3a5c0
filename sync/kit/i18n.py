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

    def gettext(self, language: str, message: str, plural: str | None = None, /, **values: object) -> str:
        """``message`` in ``language``, formatted with ``values``.

        With ``plural``, English says ``message`` when ``values["n"]`` is 1 and ``plural`` otherwise
        ("1 copy", "3 copies"); Chinese has one form, looked up by ``message``.
        """
        if language == "zh":
            text = self._zh.get(message, message)
        else:
            text = plural if plural is not None and values.get("n") != 1 else message
        return text.format(**values) if values else text

    def missing(self, messages: list[str]) -> list[str]:
        """Message ids with no Chinese text (a test keeps this empty)."""
        return [m for m in messages if m not in self._zh]
