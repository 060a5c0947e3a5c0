"""Photos and scans of materials, checked by their content and re-encoded to a legible size: the same rules at a
point's window (pointkit/scans.py) and on the residents' site, where anyone on the internet may post a file.

A file is an image or a PDF by its first bytes, never by its name. An image's size in pixels is read from its
header (``Image.open`` decodes nothing) and refused above a pixel budget before a single pixel is decoded, so a
small file that would unpack into gigabytes costs nothing. Re-encoding holds one of a few slots
(``REENCODE_SLOTS``): a burst of uploads waits its turn instead of decoding many large photos at once.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Pillow is imported inside the functions that read images, not here: every pointkit and pointkit-hub process
# imports this module, about 25 ms of CPU each at start, and most never see a photo.

# What a scan may be, told by its first bytes: a photo or scan (JPEG, PNG, TIFF) or a PDF.
SCAN_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
                   b"%PDF": "PDF"}
IMAGE_FORMATS = ("JPEG", "PNG", "TIFF")
REENCODED_FORMATS = ("JPEG", "PNG")
PHOTO_LONGEST_SIDE = 2000
PHOTO_JPEG_QUALITY = 80
# 40 megapixels: any phone camera's photo, well short of what would fill an old laptop's memory once decoded.
MAX_PIXELS = 40_000_000
# Two re-encodings at a time, each holding one photo of at most MAX_PIXELS decoded (draft() shrinks JPEGs as they
# decode): eight clerks attaching photos at once queue here instead of holding eight photos in an old laptop.
REENCODE_SLOTS = 2
_reencoding = threading.BoundedSemaphore(REENCODE_SLOTS)

# Why a file is refused, as stable English words; pages show them in their own language.
NOT_A_SCAN = "not an image (JPEG, PNG, TIFF) or a PDF"
EMPTY_SCAN = "the file is empty"
TOO_MANY_PIXELS = "more pixels than the limit"
TOO_LARGE = "larger than the size limit"


def file_kind(data: bytes) -> str | None:
    """"JPEG", "PNG", "TIFF" or "PDF" by the first bytes of ``data``; None for anything else."""
    return next((kind for magic, kind in SCAN_SIGNATURES.items() if data.startswith(magic)), None)


def scan_problem(data: bytes, *, max_bytes: int, max_pixels: int = MAX_PIXELS) -> str | None:
    """None when ``data`` is a readable image within ``max_pixels`` or a PDF, within ``max_bytes``; else why not
    (one of the words above). The image's header alone is read: nothing is decoded here."""
    if not data:
        return EMPTY_SCAN
    if len(data) > max_bytes:
        return TOO_LARGE
    kind = file_kind(data)
    if kind is None:
        return NOT_A_SCAN
    if kind == "PDF":
        return None
    Image = _pillow()  # noqa: N806 (the module, by its own name)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in IMAGE_FORMATS:
                return NOT_A_SCAN
            width, height = image.size
            if width * height > max_pixels:
                return TOO_MANY_PIXELS
            image.verify()
    except Image.DecompressionBombError:
        # Pillow's own bound, met while reading the header: far past any budget.
        return TOO_MANY_PIXELS
    except (OSError, ValueError, SyntaxError):
        return NOT_A_SCAN
    return None


def reencode_photo(data: bytes, max_kb: int, *, max_pixels: int = MAX_PIXELS) -> bytes | None:
    """A JPEG/PNG photo over ``max_kb`` as a smaller JPEG (longest side PHOTO_LONGEST_SIDE, upright as the camera
    held it), else None: a PDF, a small photo, one Pillow cannot read safely or one over ``max_pixels``."""
    if max_kb <= 0 or len(data) <= max_kb * 1024:
        return None
    Image = _pillow()  # noqa: N806 (the module, by its own name)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in REENCODED_FORMATS or image.size[0] * image.size[1] > max_pixels:
                return None
            with _reencoding:
                smaller = _smaller_jpeg(image)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return smaller if len(smaller) < len(data) else None


def _pillow():
    """Pillow's Image module, imported on first use, with its own guard set for every image this process opens,
    here or anywhere else: past MAX_PIXELS it warns, and it refuses to open an image of twice that
    (DecompressionBombError), whoever forgot to check the size first (Pillow's default refuses only past 179 MP)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image


def _smaller_jpeg(image: Image.Image) -> bytes:
    from PIL import ImageOps

    # draft() lets the JPEG decoder scale down while decoding: a 12-megapixel photo is never held whole.
    image.draft("RGB", (PHOTO_LONGEST_SIDE, PHOTO_LONGEST_SIDE))
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((PHOTO_LONGEST_SIDE, PHOTO_LONGEST_SIDE))
    out = io.BytesIO()
    upright.convert("RGB").save(out, "JPEG", quality=PHOTO_JPEG_QUALITY, optimize=True)
    return out.getvalue()
