"""Unified social credit codes (统一社会信用代码, GB 32100-2015): an organisation's 18-character ID.

Layout: a registration-authority character, an organisation-type character, the six-digit administrative
division code, the nine-character organisation code and a check character. The characters are the digits and
twenty capital letters (no I, O, S, V, Z: they read as digits); the check character is computed modulo 31 over
the first seventeen, so one mistyped character is always caught.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {character: index for index, character in enumerate(CHARSET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# What credit_code_problem finds wrong, in English (APIs, logs); pages show them in their own language.
WRONG_LENGTH = "must be 18 characters"
WRONG_CHARACTERS = "may hold only digits and the capital letters of GB 32100 (no I, O, S, V or Z)"
WRONG_DIVISION = "characters 3 to 8 must be the six digits of an administrative division"
WRONG_CHECK_CHARACTER = "check character does not match (mistyped character?)"


def normalize_credit_code(value: str) -> str:
    """What a person typed, as the code is written: capitals, no spaces."""
    return "".join(value.split()).upper()


def check_character(first17: str) -> str:
    """The 18th character GB 32100 computes from the first seventeen."""
    total = sum(_VALUES[character] * weight for character, weight in zip(first17, _WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def credit_code_problem(value: str) -> str | None:
    """None for a valid code (normalized first), else an English description of what is wrong."""
    value = normalize_credit_code(value)
    if len(value) != 18:
        return WRONG_LENGTH
    if any(character not in _VALUES for character in value):
        return WRONG_CHARACTERS
    if not value[2:8].isdigit():
        return WRONG_DIVISION
    if check_character(value[:17]) != value[17]:
        return WRONG_CHECK_CHARACTER
    return None
