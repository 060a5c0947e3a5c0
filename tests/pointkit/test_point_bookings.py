"""预约 at the point (pointkit/bookings.py): slots from the plan and the holiday calendar, capacity, change and
cancel, no-shows, the hub's requests confirmed or refused against the ledger, and the clerk's pages (the day, a
phone booking, the plan). The test plays the hub (tests/pointkit/hubside.py)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

import pytest

from pointkit import db
from pointkit.bookings import (
    NO_SHOW_AFTER,
    BookingError,
    BookingForm,
    book,
    cancel_booking,
    change_booking,
    free_slots,
    look_up_booking,
    mark,
    record_no_shows,
    set_plan,
    taken,
    today,
)
from pointkit.models import Booking
from pointkit.state import load_identity
from sync.envelope import Kind
from sync.kit.slots import SlotPlan, open_days
from sync.kit.workdays import COUNTY_TIMEZONE, default_calendar
from sync.messages import PointBookings
from tests.pointkit.hubside import rows
from tests.pointkit.test_point_pages import app, client, csrf, visible_text  # noqa: F401 (fixtures)

CALLER = {"name": "韦秀兰", "phone": "13807761234"}


def first_slots(count: int = 2) -> list[str]:
    day = open_days(SlotPlan(), default_calendar(), today())[0]
    return [f"{day.isoformat()} {start}" for start in SlotPlan().times()[:count]]


def booked(point, slot: str, origin: str = "kiosk", **fields) -> tuple[Booking, str]:
    with db.session_scope(point.data_dir) as session:
        return book(session, BookingForm(slot=slot, **{**CALLER, **fields}), origin=origin, staff="staff",
                    identity=load_identity(point.data_dir))


def plan(point, capacity: int, periods=("09:00-12:00", "13:30-17:00")) -> None:
    with db.session_scope(point.data_dir) as session:
        set_plan(session, "staff", list(periods), capacity, 14, identity=load_identity(point.data_dir))


def sent(point) -> list[PointBookings]:
    return [PointBookings.model_validate(point.open_outbox(row)) for row in point.outbox() if row.kind == Kind.BOOKING]


def test_no_slots_on_a_holiday_and_slots_on_a_make_up_working_saturday():
    calendar, plan = default_calendar(), SlotPlan(days_ahead=14)
    days = open_days(plan, calendar, date(2026, 9, 30))
    assert not [day for day in days if date(2026, 10, 1) <= day <= date(2026, 10, 7)], "国庆节 is closed"
    assert date(2026, 10, 10) in days, "the 调休 Saturday takes bookings"
    assert date(2026, 10, 11) not in days, "an ordinary Sunday does not"
    assert plan.times()[:2] == ["09:00", "09:30"] and "11:30" in plan.times() and "12:00" not in plan.times()


def test_a_slot_takes_as_many_residents_as_its_capacity_and_a_full_one_offers_the_nearest(point):
    plan(point, capacity=2)
    slot, next_slot = first_slots()
    first, code = booked(point, slot)
    booked(point, slot, name="黄丽娟")
    with pytest.raises(BookingError) as refused:
        booked(point, slot, name="蓝凤")
    assert refused.value.reason == "slot_full" and refused.value.alternatives[0] == next_slot
    assert len(rows(point.data_dir, Booking)) == 2, "a refused booking writes nothing"
    assert first.booking_no.startswith(f"Y-{today():%Y%m%d}-") and len(code) == 6 and code not in first.code_hash
    last = sent(point)[-1]
    assert last.plan.capacity == 2 and last.taken[slot] == 2 and last.booking.status == "confirmed"
    with db.session_scope(point.data_dir) as session:
        assert slot[11:] not in free_slots(session).get(date.fromisoformat(slot[:10]), [])
        assert look_up_booking(session, first.booking_no, code).id == first.id
    for _try in range(5):
        with pytest.raises(BookingError), db.session_scope(point.data_dir) as session:
            look_up_booking(session, first.booking_no, "000000" if code != "000000" else "111111")
    with pytest.raises(BookingError) as locked, db.session_scope(point.data_dir) as session:
        look_up_booking(session, first.booking_no, code)
    assert locked.value.reason == "locked", "5 wrong codes lock the booking's lookup"


def test_a_holiday_or_a_time_outside_the_hours_is_no_slot(point):
    with pytest.raises(BookingError) as outside:
        booked(point, f"{first_slots()[0][:10]} 12:30")
    assert outside.value.reason == "no_such_slot" and outside.value.alternatives
    with pytest.raises(BookingError) as past:
        booked(point, f"{today().isoformat()} 09:00")
    assert past.value.reason == "no_such_slot", "today is walk-in only"


def test_change_moves_a_booking_and_cancel_frees_its_slot(point):
    slot, other = first_slots()
    booking, _code = booked(point, slot)
    with db.session_scope(point.data_dir) as session:
        moved = change_booking(session, session.get(Booking, booking.id), other, actor="kiosk",
                               identity=load_identity(point.data_dir))
        assert moved.start == other[11:]
        assert taken(session, today()) == {other: 1}
        cancel_booking(session, moved, actor="kiosk", identity=load_identity(point.data_dir))
        assert taken(session, today()) == {}
        with pytest.raises(BookingError):
            change_booking(session, moved, slot, actor="kiosk", identity=load_identity(point.data_dir))
    assert [p.booking.status for p in sent(point)] == ["confirmed", "confirmed", "cancelled"]
    booked(point, slot, name="黄丽娟")  # the freed slot is bookable again (capacity 1)


def test_an_unmarked_booking_becomes_a_no_show_an_hour_after_its_time_and_an_arrival_overrides_it(point):
    slot = first_slots()[0]
    booking, _code = booked(point, slot)
    start = datetime.fromisoformat(slot).replace(tzinfo=COUNTY_TIMEZONE)
    identity = load_identity(point.data_dir)
    with db.session_scope(point.data_dir) as session:
        assert record_no_shows(session, identity=identity, now=start + NO_SHOW_AFTER - timedelta(minutes=1)) == 0
        assert record_no_shows(session, identity=identity, now=start + NO_SHOW_AFTER) == 1
        assert session.get(Booking, booking.id).status == "no_show"
        mark(session, session.get(Booking, booking.id), "arrived", staff="staff", identity=identity)
    assert [p.booking.status for p in sent(point)][-2:] == ["no_show", "arrived"]


def request(slot: str, *, booking_id: str, request_id: str, action: str = "book", no: str = "Y-20261205-COUNTY-0001"):
    return {"request_id": request_id, "action": action, "booking_id": booking_id, "booking_no": no, "slot": slot,
            "name": "黄丽娟", "phone": "13900000002", "precheck_no": "P-1", "code_hash": "x", "at": "2026-12-05T01:00:00Z"}


def test_the_hub_s_requests_are_confirmed_or_refused_against_the_ledger_first_come_at_the_point(point):
    slot, other = first_slots()
    booked(point, slot)  # taken here first (offline, at the kiosk)
    ids = ["0195b3c0-0000-7000-8000-00000000000" + str(n) for n in range(4)]
    report = point.apply(point.seal(Kind.BOOKING_REQUEST, request(slot, booking_id=ids[0], request_id=ids[1])),
                         point.seal(Kind.BOOKING_REQUEST, request(other, booking_id=ids[2], request_id=ids[3],
                                                                  no="Y-20261205-COUNTY-0002")))
    assert report.applied == 2 and not report.errors
    loser, winner = (next(row for row in rows(point.data_dir, Booking) if row.id == i) for i in (ids[0], ids[2]))
    assert (loser.status, loser.refusal, loser.wanted_slot) == ("refused", "slot_full", slot)
    assert loser.alternatives and slot not in loser.alternatives and loser.precheck_no == "P-1"
    assert (winner.status, f"{winner.day} {winner.start}") == ("confirmed", other)
    verdicts = [p.booking for p in sent(point)[-2:]]
    assert [(v.request_id, v.status, v.refusal) for v in verdicts] == [
        (ids[1], "refused", "slot_full"), (ids[3], "confirmed", "")]
    count = len(point.outbox())
    point.apply(point.seal(Kind.BOOKING_REQUEST, request(slot, booking_id=ids[0], request_id=ids[1])))
    assert len(point.outbox()) == count, "a repeated request changes nothing and answers nothing"


def test_the_clerk_books_for_a_caller_and_marks_arrivals_on_the_day_page(point, client):  # noqa: F811
    slot = first_slots()[0]
    answer = client.post("/bookings/phone", data={"csrf_token": csrf(client, "/bookings/phone"), "slot": slot,
                                                  "name": "蓝凤", "phone": "13712345678", "precheck_no": "p-9"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, visible_text(page)[:500]
    number = re.search(r'id="booking-no"[^>]*>([^<]+)<', page).group(1)
    assert re.search(r'id="booking-code"[^>]*>\d{6}<', page)
    [row] = rows(point.data_dir, Booking)
    assert (row.origin, row.staff, row.precheck_no) == ("phone", "staff", "P-9")
    day = visible_text(client.get(f"/bookings/?day={slot[:10]}").get_data(as_text=True))
    assert number in day and "蓝凤" in day and "P-9" in day and "电话" in day and "已预约" in day
    assert "Confirmed" not in day and "phone" not in day
    client.post(f"/bookings/{row.id}/mark", data={"csrf_token": csrf(client, f"/bookings/?day={slot[:10]}"),
                                                 "status": "arrived"})
    assert rows(point.data_dir, Booking)[0].status == "arrived"
    assert "已到场" in visible_text(client.get(f"/bookings/?day={slot[:10]}").get_data(as_text=True))
    full = client.post("/bookings/phone", data={"csrf_token": csrf(client, "/bookings/phone"), "slot": slot,
                                                "name": "韦秀兰", "phone": "13712345679"})
    assert full.status_code == 422 and "这个时段已约满" in visible_text(full.get_data(as_text=True))


def test_the_plan_page_sets_hours_and_capacity_and_refuses_nonsense(point, client):  # noqa: F811
    bad = client.post("/bookings/plan", data={"csrf_token": csrf(client, "/bookings/plan"),
                                              "periods": "9-12", "capacity": "1", "days_ahead": "14"})
    assert bad.status_code == 422 and "请填写1至4个办公时段" in visible_text(bad.get_data(as_text=True))
    good = client.post("/bookings/plan", data={"csrf_token": csrf(client, "/bookings/plan"),
                                               "periods": "08:30-11:30，14:00-17:30", "capacity": "3",
                                               "days_ahead": "7"})
    assert good.status_code == 302
    published = sent(point)[-1]
    assert (published.plan.periods, published.plan.capacity, published.plan.days_ahead) == (
        ["08:30-11:30", "14:00-17:30"], 3, 7) and published.booking is None


def test_a_sunday_page_says_closed_and_lists_no_free_half_hours(point, client):  # noqa: F811
    sunday = today() + timedelta(days=(6 - today().weekday()) or 7)
    if default_calendar().is_working_day(sunday):
        sunday += timedelta(days=7)
    page = client.get(f"/bookings/?day={sunday}").get_data(as_text=True)
    assert 'id="day-closed"' in page and 'class="free"' not in page


def test_a_booking_that_names_a_pre_check_held_here_links_to_it_on_the_day_page(point, client):  # noqa: F811
    from tests.pointkit.test_point_prechecks import copy  # the hub's PRECHECK copy, as that test builds it

    precheck_id = str(uuid.uuid4())
    point.apply(point.seal(Kind.PRECHECK, copy(precheck_id)))
    slots = first_slots(2)
    for slot, number, name in zip(slots, ("YS-20261205-0001", "YS-20990101-0009"), ("蓝凤", "韦秀兰")):
        answer = client.post("/bookings/phone", data={"csrf_token": csrf(client, "/bookings/phone"), "slot": slot,
                                                      "name": name, "phone": "13712345678", "precheck_no": number})
        assert answer.status_code == 200, visible_text(answer.get_data(as_text=True))[:300]
    day = client.get(f"/bookings/?day={slots[0][:10]}").get_data(as_text=True)
    assert re.search(rf'<a class="precheck" href="/prechecks/{precheck_id}">YS-20261205-0001</a>', day)
    assert '<span class="precheck">YS-20990101-0009</span>' in day, "a pre-check not held here is named, not linked"
