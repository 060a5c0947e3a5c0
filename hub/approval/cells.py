"""Spreadsheet cells that cannot run: text a spreadsheet program would read as a formula is quoted.

Excel, WPS and LibreOffice run a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab or a
carriage return at the start lets one smuggle in after a separator (OWASP "CSV injection"). A resident's name, a
complaint's words or an item's name all reach the exports, so every text cell goes through ``spreadsheet_text``;
numbers stay numbers (a negative count is a number, not a formula).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` as a cell shows it, with a leading single quote when it would start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def spreadsheet_cell(value: object) -> object:
    """A value for a CSV or XLSX cell: blank for none, numbers as they are, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    return spreadsheet_text(str(value))
