"""Photos checked by content and re-encoded (sync/kit/photos.py): what the residents' site and the window accept,
the pixel budget read from the header before any decoding, and the re-encoded size."""

from __future__ import annotations

import io
import struct
import time
import zlib

from PIL import Image

from sync.kit import photos


def jpeg(width: int, height: int, quality: int = 95) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 60).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` but that holds almost no pixel data: decoding it would unpack
    gigabytes, reading its header costs nothing."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_images_and_pdfs_pass_and_anything_else_is_refused_by_its_content():
    assert photos.scan_problem(jpeg(300, 200), max_bytes=1 << 20) is None
    assert photos.scan_problem(b"%PDF-1.4\n%%EOF\n", max_bytes=1 << 20) is None
    assert photos.scan_problem(b"MZ\x90\x00 a program named photo.jpg", max_bytes=1 << 20) == photos.NOT_A_SCAN
    assert photos.scan_problem(b"\xff\xd8\xff but not really a JPEG", max_bytes=1 << 20) == photos.NOT_A_SCAN
    assert photos.scan_problem(b"", max_bytes=1 << 20) == photos.EMPTY_SCAN
    assert photos.scan_problem(jpeg(300, 200), max_bytes=100) == photos.TOO_LARGE


def test_an_image_over_the_pixel_budget_is_refused_from_its_header_without_decoding():
    bomb = png_header_only(60_000, 60_000)  # 3.6 gigapixels, about 10 GB once decoded
    started = time.perf_counter()
    assert photos.scan_problem(bomb, max_bytes=1 << 20) == photos.TOO_MANY_PIXELS
    assert time.perf_counter() - started < 1.0
    assert photos.reencode_photo(bomb + b"\x00" * 2048, max_kb=1) is None
    assert photos.scan_problem(jpeg(1000, 800), max_bytes=1 << 22, max_pixels=500_000) == photos.TOO_MANY_PIXELS
    assert photos.scan_problem(jpeg(600, 800), max_bytes=1 << 22, max_pixels=500_000) is None


def test_a_large_photo_is_re_encoded_to_a_legible_size_and_a_small_one_is_left_alone():
    big = jpeg(3000, 2250)
    smaller = photos.reencode_photo(big, max_kb=400)
    assert smaller is not None and len(smaller) < len(big)
    assert Image.open(io.BytesIO(smaller)).size == (2000, 1500)
    small = jpeg(200, 150)
    assert photos.reencode_photo(small, max_kb=400) is None
    assert photos.reencode_photo(b"%PDF-1.4\n" + b"x" * 500_000, max_kb=1) is None
