"""预约 at the hub (hub/approval/bookings.py, hub/web/bookings.py): what a point publishes is what the site offers;
a slot that shows full is refused at once with the nearest free ones; otherwise the booking is a request sent to the
point, counted as taken until the point answers; the point's verdict replaces the hub's view, an older record
changes nothing. A real hub on loopback (SQLite and PostgreSQL), a point made of ``sync`` only (hubkit.FakePoint)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from hub.core.models import Booking
from sync.envelope import Kind
from sync.kit.slots import SlotPlan, open_days
from sync.clock import utcnow
from sync.kit.workdays import county_date, default_calendar
from tests.hub.hubkit import csrf_from

PLAN = {"periods": ["09:00-10:30"], "capacity": 1, "days_ahead": 14}


def slots() -> list[str]:
    day = open_days(SlotPlan(), default_calendar(), county_date(utcnow()))[0]
    return [f"{day.isoformat()} {start}" for start in ("09:00", "09:30", "10:00")]


def publish(point, taken: dict, booking: dict | None = None, at: datetime | None = None):
    payload = {"plan": PLAN, "taken": taken, "booking": booking,
               "at": (at or datetime.now(timezone.utc)).isoformat()}
    [answer] = point.client.push([point.seal(Kind.BOOKING, payload)])
    return answer


def post_booking(site, point, slot: str, name: str = "黄丽娟"):
    page = site.get(f"/residents/bookings/?point={point.point_id}&day={slot[:10]}").text
    return site.post(f"/residents/bookings/?point={point.point_id}", data={
        "csrf_token": csrf_from(page), "slot": slot, "name": name, "phone": "13900000002", "precheck_no": "p-7"})


def shown(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def test_the_site_offers_what_the_point_published_and_asks_the_point_for_the_rest(hub):
    point = hub.enroll_point()
    site = hub.browser()
    assert point.name not in site.get("/residents/bookings/").text, "no plan published: not offered"
    full, free, last = slots()
    assert publish(point, {full: 1}).status == "accepted"
    assert point.name in site.get("/residents/bookings/").text

    refused = post_booking(site, point, full)
    assert refused.status_code == 422 and "这个时段已约满" in shown(refused.text, "booking-refusal")
    offered = re.findall(r'name="slot" value="([^"]+)"', refused.text)
    assert offered[:2] == [free, last] and len(offered) == 3, "the three nearest free times offered"

    made = post_booking(site, point, free)
    assert made.status_code == 200, made.text[:500]
    assert "等待服务点确认" in shown(made.text, "booking-state")
    number, code = shown(made.text, "booking-no"), shown(made.text, "booking-code")
    second = post_booking(site, point, free, name="蓝凤")
    assert second.status_code == 422, "the hub's own unanswered request holds the slot too"

    [(envelope, request)] = [(e, p) for e, p in point.pull_all()[0] if e.header.kind == Kind.BOOKING_REQUEST]
    assert (request["action"], request["slot"], request["booking_no"], request["precheck_no"]) == (
        "book", free, number, "P-7")
    record = {"booking_id": request["booking_id"], "booking_no": number, "slot": free, "status": "confirmed",
              "origin": "hub", "name": "黄丽娟", "phone": "13900000002", "precheck_no": "P-7",
              "code_hash": request["code_hash"], "request_id": request["request_id"],
              "at": datetime.now(timezone.utc).isoformat()}
    assert publish(point, {full: 1, free: 1}, record).status == "accepted"
    looked = site.post("/residents/bookings/lookup", data={
        "csrf_token": csrf_from(site.get("/residents/bookings/lookup").text), "booking_no": number, "code": code})
    assert "已确认" in shown(looked.text, "booking-state")
    with hub.db() as session:
        stored = session.exec(select(Booking).where(Booking.booking_no == number)).one()
        assert (stored.status, stored.pending_request_id, stored.point_id) == ("confirmed", "", point.point_id)

    older = {**record, "status": "cancelled", "at": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}
    assert publish(point, {full: 1}, older).status == "duplicate", "an older record changes nothing"
    wrong = site.post("/residents/bookings/lookup", data={
        "csrf_token": csrf_from(site.get("/residents/bookings/lookup").text), "booking_no": number,
        "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and "预约号或查询码不对" in shown(wrong.text, "booking-refusal")
    for _try in range(4):
        site.post("/residents/bookings/lookup", data={
            "csrf_token": csrf_from(site.get("/residents/bookings/lookup").text), "booking_no": number,
            "code": "000000" if code != "000000" else "111111"})
    locked = site.post("/residents/bookings/lookup", data={
        "csrf_token": csrf_from(site.get("/residents/bookings/lookup").text), "booking_no": number, "code": code})
    assert locked.status_code == 422 and "锁定" in shown(locked.text, "booking-refusal"), "5 wrong codes lock it"


def test_a_point_s_own_booking_with_another_point_s_id_is_refused_alone(hub):
    first, second = hub.enroll_point(), hub.enroll_point("八达镇百乐村便民服务站")
    slot = slots()[0]
    record = {"booking_id": str(uuid.uuid4()), "booking_no": "Y-20261205-ABCDEF-0001", "slot": slot,
              "status": "confirmed", "origin": "kiosk", "name": "韦秀兰", "phone": "13800000001",
              "at": datetime.now(timezone.utc).isoformat()}
    assert publish(first, {slot: 1}, record).status == "accepted"
    taken_over = publish(second, {slot: 1}, {**record, "booking_no": "Y-20261205-FEDCBA-0001"})
    assert taken_over.status == "rejected" and taken_over.reason == "booking_id_taken"
