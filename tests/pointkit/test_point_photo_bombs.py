"""A photo that would unpack into gigabytes at the point's window (issue 27, case 3): a real PNG of 13,000 ×
13,000 pixels, 20 KB on disk and 169 million pixels decoded, is refused from its header with the limit named,
through the API and on the intake page; a normal photo is still made smaller when --max-photo-kb is set.

The point runs in-process (the Flask test client): no socket is needed to reach the check."""

from __future__ import annotations

import io
import json
import re
import struct
import time
import zlib

import pytest
from PIL import Image

from pointkit import create_app, db
from pointkit.auth import create_staff
from pointkit.models import ScanFile
from pointkit.state import get_state
from tests.pointkit.hubside import GOOD_ID, rows, valid_form

SIDE = 13_000


def png_1_bit(width: int, height: int) -> bytes:
    """A whole, decodable black-and-white PNG, written row by row without holding the image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    squeeze, row = zlib.compressobj(9), b"\x00" * (1 + (width + 7) // 8)
    pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


@pytest.fixture
def window(point):
    """The point's app with a clerk who may use the API and the pages; photos over 200 KB are made smaller."""
    with db.session_scope(point.data_dir) as session:
        create_staff(session, "boss", "window-pass-2", role="admin")
        get_state(session).max_photo_kb = 200
    client = create_app(point.data_dir, test_config={"TESTING": True}).test_client()
    token = client.post("/api/login", json={"username": "boss", "password": "window-pass-2"}).json["token"]
    return client, {"Authorization": f"Bearer {token}"}


def api_intake(client, headers, photo: bytes, name: str):
    case = {"item_code": "T-001", "applicant": {"name": "王小明", "id_number": GOOD_ID, "phone": "13800138000"},
            "form": valid_form(), "materials": ["id_card", "hukou"]}
    return client.post("/api/cases", headers=headers, content_type="multipart/form-data",
                       data={"case": json.dumps(case), "scan_materials": ["id_card"],
                             "scans": [(io.BytesIO(photo), name)]})


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_13000_pixel_square_png_is_refused_from_its_header_with_the_limit_named(point, window):
    client, headers = window
    bomb = png_1_bit(SIDE, SIDE)
    assert len(bomb) < 64 * 1024 and struct.unpack(">II", bomb[16:24]) == (SIDE, SIDE)
    started = time.perf_counter()
    refused = api_intake(client, headers, bomb, "户口簿.png")
    assert time.perf_counter() - started < 1.0, "decoding it alone takes seconds and 169 MB"
    assert refused.status_code == 422 and refused.json["reason"] == "invalid_input"
    assert refused.json["fields"] == {"scans_id_card": "more than 40 megapixels"}
    assert rows(point.data_dir, ScanFile) == [] and not list((point.data_dir / "scans").glob("*"))

    form_page = "/cases/new?item=T-001"
    csrf = lambda path: re.search(r'name="csrf_token" value="([^"]+)"',  # noqa: E731
                                  client.get(path).get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "boss", "password": "window-pass-2", "csrf_token": csrf("/login")})
    page = client.post(form_page, content_type="multipart/form-data", data={
        "csrf_token": csrf(form_page), "item_code": "T-001", "applicant_name": "王小明", "applicant_id_number": GOOD_ID,
        "field_category": "普通居民", "field_household_size": "4", "materials": ["id_card", "hukou"],
        "scans_id_card": [(io.BytesIO(bomb), "户口簿.png")]})
    assert page.status_code == 422 and "超过4000万像素：请降低分辨率重新拍摄" in page.get_data(as_text=True)


def test_a_normal_photo_is_still_made_smaller(point, window):
    client, headers = window
    photo = io.BytesIO()
    Image.effect_noise((1600, 1200), 60).convert("RGB").save(photo, "JPEG", quality=95)
    assert len(photo.getvalue()) > 200 * 1024
    created = api_intake(client, headers, photo.getvalue(), "身份证.jpg")
    assert created.status_code == 201, created.json
    (scan,) = rows(point.data_dir, ScanFile)
    assert scan.original_size == len(photo.getvalue()) and scan.size < scan.original_size and scan.name == "身份证.jpg"
