"""预约 on real servers: a village point offline books its last place in a half-hour at the kiosk while a resident
books the same half-hour on the hub's site; when the link comes back the point's ledger decides, nobody is booked
twice, and the resident who lost reads why in words, with the nearest free times, and takes one of them."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlparse

import httpx
from sqlmodel import select

from sync.clock import utcnow
from sync.kit.slots import SlotPlan, open_days
from sync.kit.workdays import county_date, default_calendar
from tests.support.cluster import command, wait_until
from tests.support.linksim import LinkSimulator

from pointkit import db
from pointkit.models import Booking

VILLAGE = "八达镇周邦村便民服务站"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(client: httpx.Client, path: str, data: dict, *, page: str | None = None) -> httpx.Response:
    """Post a form as a browser does: with the CSRF token of the page it is on (``page``, else ``path``)."""
    token = TOKEN.search(client.get(page or path).text).group(1)
    return client.post(path, data={"csrf_token": token, **data})


def first_slot() -> str:
    """The first half-hour of the first bookable day, on the calendar both sides count on."""
    day = open_days(SlotPlan(), default_calendar(), county_date(utcnow()))[0]
    return f"{day.isoformat()} 09:00"


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(div|td|span|p)>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def test_an_offline_kiosk_booking_and_an_online_one_for_the_same_half_hour(cluster, tmp_path):
    hub = cluster.start_hub()
    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port)) as link:
        point = cluster.start_point(VILLAGE, "village", hub_url=link.url)
        cluster.run(command("pointkit"), "bookings-plan", "--data", str(point.data), "--capacity", "1")
        site, kiosk = httpx.Client(base_url=hub.url), httpx.Client(base_url=point.url)
        wait_until(lambda: VILLAGE in site.get("/residents/bookings/").text, timeout=30,
                   what="the point's booking plan on the hub's site")
        point_id = re.search(r'point=([0-9a-f-]{36})', site.get("/residents/bookings/").text).group(1)
        slot = first_slot()

        link.set_down(True)
        at_kiosk = post_form(kiosk, "/residents/bookings/", {
            "slot": slot, "name": "韦秀兰", "phone": "13800000001"}, page=f"/residents/bookings/?day={slot[:10]}")
        assert at_kiosk.status_code == 200, at_kiosk.text
        assert "已确认" in text_of(at_kiosk.text, "booking-state")

        online = post_form(site, f"/residents/bookings/?point={point_id}", {
            "slot": slot, "name": "黄丽娟", "phone": "13900000002", "precheck_no": "P-20261205-0001"},
            page=f"/residents/bookings/?point={point_id}&day={slot[:10]}")
        assert online.status_code == 200, online.text
        booking_no, code = text_of(online.text, "booking-no"), text_of(online.text, "booking-code")
        assert "等待服务点确认" in text_of(online.text, "booking-state")
        link.set_down(False)

        def answered() -> str:
            page = post_form(site, "/residents/bookings/lookup", {"booking_no": booking_no, "code": code})
            state = text_of(page.text, "booking-state")
            return page.text if "等待" not in state else ""

        page = wait_until(answered, timeout=60, what="the point's verdict on the online booking")
        assert "未能预约：服务点已把这个时段预约给了另一位居民。" in text_of(page, "booking-state")
        offered = re.findall(r'name="slot" value="([^"]+)"', page.split('id="booking-alternatives"')[1])
        assert offered and slot not in offered

        with db.session_scope(point.data) as session:
            rows = session.exec(select(Booking)).all()
        holding = [row for row in rows if f"{row.day.isoformat()} {row.start}" == slot and
                   row.status in ("confirmed", "arrived", "no_show")]
        assert [row.name for row in holding] == ["韦秀兰"], "one resident in a half-hour of capacity 1"
        refused = next(row for row in rows if row.booking_no == booking_no)
        assert (refused.status, refused.refusal, refused.precheck_no) == ("refused", "slot_full", "P-20261205-0001")

        # The clerk sees the refusal on the day page, in words.
        staff = httpx.Client(base_url=point.url)
        post_form(staff, "/login", {"username": "staff", "password": point.logins["staff"]})
        day_page = staff.get("/bookings/", params={"day": slot[:10]}).text
        assert booking_no in day_page and "已被本点预约" in day_page

        # She takes the first time offered, and the point confirms it.
        taken = post_form(site, "/residents/bookings/lookup", {"booking_no": booking_no, "code": code,
                                                               "action": "change", "slot": offered[0]},
                          page="/residents/bookings/lookup")
        assert taken.status_code == 200, taken.text

        def confirmed() -> bool:
            page = post_form(site, "/residents/bookings/lookup", {"booking_no": booking_no, "code": code})
            return "已确认" in text_of(page.text, "booking-state")

        wait_until(confirmed, timeout=60, what="the point's confirmation of the offered time")
        with db.session_scope(point.data) as session:
            row = session.exec(select(Booking).where(Booking.booking_no == booking_no)).one()
        assert (row.status, f"{row.day.isoformat()} {row.start}") == ("confirmed", offered[0])
        assert county_date(utcnow()) + timedelta(days=1) <= row.day
