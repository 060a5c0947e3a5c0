"""Where the hub's page translations live: gettext catalogs, one folder per language (zh_Hans_CN, en), with English
as the message id. Messages are marked where they are written (``_()``, ``ngettext()``, ``lazy_gettext()``);
``pybabel extract -F babel.cfg`` collects them (docs/translations.md)."""

from __future__ import annotations

from pathlib import Path

TRANSLATIONS = Path(__file__).parent / "translations"
