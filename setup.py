"""Builds the wheel with the page translations compiled: each app's .po catalogs (pointkit/translations,
hub/web/translations) become the .mo files gettext reads, so an installed point or hub needs no build step.
Everything else about the package is in pyproject.toml. An editable install compiles at app start instead
(sync/kit/i18n.py compile_catalogs)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    """build_py, then every translations/<locale>/LC_MESSAGES/*.po in the build compiled beside itself."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for po_path in sorted(Path(self.build_lib).glob("**/translations/*/LC_MESSAGES/*.po")):
            with po_path.open("rb") as file:
                catalog = read_po(file, locale=po_path.parent.parent.name)
            with po_path.with_suffix(".mo").open("wb") as file:
                write_mo(file, catalog)


setup(cmdclass={"build_py": BuildWithCatalogs})
