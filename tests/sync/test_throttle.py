"""The login throttle's schedule, keys and memory bound (sync/kit/throttle.py), on an injected clock: no sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sync.kit.throttle import (ADDRESS_FREE_FAILURES, MAX_DELAY_S, QUIET_RESET_S, LoginGate, Throttle, address_key,
                               delay_after, note_failure, note_success, record_wait)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_after_three_free_failures_and_stop_at_a_minute():
    assert [delay_after(n) for n in range(12)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert delay_after(10_000) == MAX_DELAY_S


def test_a_try_during_the_delay_is_refused_without_counting_and_the_stated_wait_is_enough():
    clock = Clock()
    gate = LoginGate.create(clock=clock)
    for _ in range(3):
        assert gate.admit("admin", "127.0.0.2") == 0
    assert gate.failures("admin", "127.0.0.2") == (3, 3)
    stated = gate.admit("admin", "127.0.0.2")
    assert stated == 1
    for _ in range(50):  # hammering during the delay neither counts nor lengthens it
        assert gate.admit("admin", "127.0.0.2") == 1
    assert gate.failures("admin", "127.0.0.2") == (3, 3)
    clock.now += stated
    assert gate.admit("admin", "127.0.0.2") == 0, "after the stated wait the password is checked"
    gate.succeeded("admin", "127.0.0.2")
    assert gate.failures("admin", "127.0.0.2") == (0, 3)
    assert gate.admit("admin", "127.0.0.3") == 0, "another address never waits for this one"


def test_an_address_trying_many_names_waits_for_every_name_and_forgets_after_a_quiet_spell():
    clock = Clock()
    gate = LoginGate.create(clock=clock)
    for n in range(ADDRESS_FREE_FAILURES):
        assert gate.admit(f"nobody-{n}", "10.0.0.9") == 0
    assert gate.admit("nobody-new", "10.0.0.9") == 1
    assert gate.admit("admin", "10.0.0.9") == 1, "a known name waits too, so the answer tells no one which exist"
    assert gate.admit("admin", "10.0.0.8") == 0
    clock.now += QUIET_RESET_S
    assert gate.admit("nobody-new", "10.0.0.9") == 0


def test_memory_is_bounded_by_forgetting_the_least_recently_failed_keys():
    throttle = Throttle(free=1, max_keys=100, clock=Clock())
    for n in range(1000):
        throttle.admit(f"key-{n}")
    assert len(throttle._keys) == 100
    assert throttle.failures("key-999") == 1 and throttle.failures("key-0") == 0


def test_ipv6_clients_are_keyed_by_their_64_and_ipv4_as_themselves():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_key("::ffff:10.1.2.3") == "10.1.2.3" == address_key("10.1.2.3")
    assert address_key(address_key("2001:db8::1")) == "2001:db8::/64"


def test_a_stored_record_states_the_same_delays_and_ends_them_at_the_right_password():
    now = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
    record = SimpleNamespace(failures=0, first_at=now, last_at=now, throttled_until=None, succeeded_at=None)
    started = [note_failure(record, now) for _ in range(5)]
    assert started == [False, False, True, False, False], "the delays begin once: one audit entry"
    assert record.failures == 5 and record_wait(record, now) == 4
    note_success(record, now + timedelta(seconds=5))
    assert record_wait(record, now) == 0 and record.failures == 5, "the failures stay on record for the admin"
    note_failure(record, now + timedelta(seconds=6))
    assert record.failures == 1, "a failure after the right password starts afresh"
    note_failure(record, now + timedelta(seconds=6 + QUIET_RESET_S))
    assert record.failures == 1, "and so does one after a quiet spell"
