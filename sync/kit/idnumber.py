"""Resident ID numbers (GB 11643-1999): 17 digits, a birth date, a check character."""

from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# What id_number_problem finds wrong, in English (APIs, logs); pages show them in their own language.
WRONG_LENGTH = "must be 18 characters"
WRONG_CHARACTERS = "must be 17 digits followed by a digit or X"
IMPOSSIBLE_BIRTH_DATE = "contains an impossible birth date"
WRONG_CHECK_CHARACTER = "check character does not match (mistyped digit?)"


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """None for a valid 18-character ID number, else an English description of what is wrong."""
    value = value.strip().upper()
    if len(value) != 18:
        return WRONG_LENGTH
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return WRONG_CHARACTERS
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return IMPOSSIBLE_BIRTH_DATE
    if born.year < 1900 or born > date.today():
        return IMPOSSIBLE_BIRTH_DATE
    if check_character(value[:17]) != value[17]:
        return WRONG_CHECK_CHARACTER
    return None


def normalize_id_number(value: str) -> str:
    return value.strip().upper()


def mask_id_number(value: str) -> str:
    """Show only the first 3 and last 4 characters, as receipts and kiosks do."""
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else "*" * len(value)
