"""Spreadsheet cells that cannot run: text a spreadsheet program would read as a formula is quoted.

Excel, WPS and LibreOffice run a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab or a
carriage return at the start lets one smuggle in after a separator (OWASP "CSV injection"). A resident's name, a
complaint's words, a point's or a department's name all reach the exports, so every text cell of every CSV and
XLSX the hub writes goes through ``spreadsheet_cell``; numbers stay numbers (a negative count is a number, not a
formula). A file staff edit and import again (the catalog's CSV tables) reads its cells back through
``typed_text``, so a name that starts with ``=`` survives the round trip unchanged.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _runs(text: str) -> bool:
    """Whether ``text``, or what is left of it once its leading quotes are dropped, starts a formula: the
    second case is quoted too, so that ``typed_text`` can always drop exactly one quote."""
    return text.lstrip(QUOTE).startswith(FORMULA_STARTS)


def spreadsheet_text(text: str) -> str:
    """``text`` as a cell shows it, with a leading single quote when it would start a formula."""
    return QUOTE + text if _runs(text) else text


def spreadsheet_cell(value: object) -> object:
    """A value for a CSV or XLSX cell: blank for none, numbers as they are, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    return spreadsheet_text(str(value))


def typed_text(cell: str) -> str:
    """The text ``spreadsheet_text`` quoted, from a cell read back: the inverse of quoting, so an export
    imported again changes nothing."""
    return cell[1:] if cell.startswith(QUOTE) and _runs(cell) else cell
