"""QR codes on printouts (receipts, results), the same size rule on both sides.

Village printers are cheap and phones old: a module under about 0.8 mm, or a
code under about 2.5 cm across, scans badly. Codes are inline SVG (no image
files, no external assets), sized in CSS pixels (96 per inch, as printed).
"""

from __future__ import annotations

import math

import segno

MIN_MODULE_PX = 3  # 0.8 mm printed
MIN_CODE_PX = 100  # 2.6 cm, quiet zone included
QUIET_ZONE = 2


def qr_svg(text: str) -> str:
    """An inline SVG QR code of ``text``: modules at least MIN_MODULE_PX, the code at least MIN_CODE_PX."""
    code = segno.make(text, error="m")
    width, _height = code.symbol_size(scale=1, border=QUIET_ZONE)
    scale = max(MIN_MODULE_PX, math.ceil(MIN_CODE_PX / width))
    return code.svg_inline(scale=scale, border=QUIET_ZONE)
