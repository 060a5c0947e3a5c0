"""Growing delays after failed logins, per (user name, client address) and per address, in bounded memory.

A hard lock after N wrong passwords lets anyone who can reach the login keep any account locked. Here a
failure delays only the next try of the same name from the same address (and, past a larger allowance, any
name from that address), and the delay is stated: "try again in N s". During it a try is refused before the
password is checked, so a flood of guesses costs no scrypt (16 MiB and tens of ms each). The real user, from
any other address, is never delayed.

The state is per process and bounded (least recently used keys are forgotten first). Both apps also record
failures of real accounts in their databases (``hub.trust.logins``, ``pointkit.logins``), where every hub
process reads them and an administrator sees them.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sync.clock import as_utc, monotonic_s
from sync.kit.passwords import verify_nobody, verify_password

__all__ = ["ADDRESS_FREE_FAILURES", "FIRST_DELAY_S", "FREE_FAILURES", "FailureRecord", "LoginGate", "LoginThrottled",
           "MAX_DELAY_S", "MAX_KEYS", "QUIET_RESET_S", "RECENT_FAILURES", "Throttle", "UNKNOWN_NAMES", "address_key",
           "check_password", "delay_after", "note_failure", "note_success", "record_wait"]

# Failures of one name from one address before the first delay: a clerk's typos never wait.
FREE_FAILURES = 3
# Failures of any names from one address before that address waits: enough for a shared office to mistype.
ADDRESS_FREE_FAILURES = 10
# The first delay; each further failure doubles it, up to MAX_DELAY_S (1, 2, 4, 8, 16, 32, 60 s).
FIRST_DELAY_S = 1
MAX_DELAY_S = 60
# A key with no failure for this long starts again with its free failures.
QUIET_RESET_S = 15 * 60
# Keys held per throttle: about 300 bytes each, so at most about 3 MB for each of a process's two throttles.
MAX_KEYS = 10_000
# How long a database record of failures is kept and shown to an administrator.
RECENT_FAILURES = timedelta(hours=24)
# The user name a record of unknown names carries (the names themselves are never stored).
UNKNOWN_NAMES = ""
# IPv6 clients are keyed by their /64 (one household or laptop owns a whole /64, so single addresses are free).
IPV6_PREFIX = 64


def delay_after(failures: int, free: int = FREE_FAILURES) -> int:
    """Seconds the next try waits after ``failures`` failures in a row: none until ``free``, then doubling."""
    if failures < free:
        return 0
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** min(failures - free, 16))


def address_key(address: str) -> str:
    """The client address as throttled: itself, or its /64 for IPv6 (so a host cannot walk its own addresses)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


@dataclass(eq=False)
class LoginThrottled(Exception):
    """Too many failed logins of this name from this address, or of any names from it: the password was not
    checked; try again in ``wait_s`` seconds."""

    wait_s: int

    def __str__(self) -> str:
        return f"too many failed logins from this address; try again in {self.wait_s} s"


@dataclass
class _Failures:
    count: int
    last_at: float


class Throttle:
    """Failures per key with a doubling delay after ``free`` of them; at most ``max_keys`` keys are held.

    A try that is let through counts as a failure at once (``admit``) and is taken back if it succeeds
    (``forgive`` or ``clear``): so concurrent tries cannot all slip through before the first one fails.
    """

    def __init__(self, *, free: int, max_keys: int = MAX_KEYS, clock: Callable[[], float] = monotonic_s):
        self.free, self.max_keys, self.clock = free, max_keys, clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Throttle(free={self.free}, max_keys={self.max_keys}, keys={len(self._keys)})"

    def wait(self, key: str) -> int:
        """Whole seconds before ``key`` may try again (0: now)."""
        with self._lock:
            return self._wait(key, self.clock())

    def admit(self, key: str) -> int:
        """0 and the try counted as a failure, or the whole seconds still to wait (nothing counted)."""
        with self._lock:
            now = self.clock()
            wait = self._wait(key, now)
            if wait:
                return wait
            entry = self._keys.pop(key, None) or _Failures(0, now)
            entry.count, entry.last_at = entry.count + 1, now
            self._keys[key] = entry
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return 0

    def failures(self, key: str) -> int:
        """Failures counted for ``key`` (after a quiet spell, none)."""
        with self._lock:
            entry = self._current(key, self.clock())
            return entry.count if entry else 0

    def forgive(self, key: str) -> None:
        """Take back one admitted try that succeeded (the address's count: other names' failures stand)."""
        with self._lock:
            entry = self._keys.get(key)
            if entry is not None:
                entry.count = max(0, entry.count - 1)

    def clear(self, key: str) -> None:
        """Forget ``key`` (the right password for this name from this address)."""
        with self._lock:
            self._keys.pop(key, None)

    def _current(self, key: str, now: float) -> _Failures | None:
        entry = self._keys.get(key)
        if entry is not None and now - entry.last_at >= QUIET_RESET_S:
            del self._keys[key]
            return None
        return entry

    def _wait(self, key: str, now: float) -> int:
        entry = self._current(key, now)
        if entry is None:
            return 0
        delay = delay_after(entry.count, self.free)
        left = min(entry.last_at + delay - now, delay)  # never longer than the delay, even for a clock set back
        return math.ceil(left) if left > 0 else 0


@dataclass(frozen=True)
class LoginGate:
    """The two throttles a login passes: its name from its address, and its address for any name."""

    pairs: Throttle
    addresses: Throttle

    @classmethod
    def create(cls, *, clock: Callable[[], float] = monotonic_s) -> LoginGate:
        return cls(pairs=Throttle(free=FREE_FAILURES, clock=clock),
                   addresses=Throttle(free=ADDRESS_FREE_FAILURES, clock=clock))

    def admit(self, username: str, address: str) -> int:
        """0 (go on and check the password: the try counts as a failure until ``succeeded``) or the whole
        seconds to wait, when the password must not be checked at all."""
        pair, where = self._pair(username, address), address_key(address)
        wait = max(self.pairs.wait(pair), self.addresses.wait(where))
        if wait:
            return wait
        wait = self.pairs.admit(pair)
        if wait:
            return wait
        wait = self.addresses.admit(where)
        if wait:
            self.pairs.forgive(pair)
        return wait

    def succeeded(self, username: str, address: str) -> None:
        """The right password: this name from this address starts afresh; the address keeps others' failures."""
        self.pairs.clear(self._pair(username, address))
        self.addresses.forgive(address_key(address))

    def failures(self, username: str, address: str) -> tuple[int, int]:
        """Failures in a row of this name from this address, and of any name from the address."""
        return self.pairs.failures(self._pair(username, address)), self.addresses.failures(address_key(address))

    def wait(self, username: str, address: str) -> int:
        """Whole seconds before this name may try again from this address."""
        return max(self.pairs.wait(self._pair(username, address)), self.addresses.wait(address_key(address)))

    @staticmethod
    def _pair(username: str, address: str) -> str:
        return f"{address_key(address)}\x00{username.strip()[:64]}"


def check_password(gate: LoginGate, username: str, address: str, password: str, password_hash: str | None, *,
                   stored_wait: Callable[[str, str], int], record_failure: Callable[[str | None, str], None]) -> bool:
    """Whether ``password`` opens the account ``username`` (its ``password_hash``; None: no such account) tried
    from ``address``, for both apps' logins. Raises LoginThrottled, the password unchecked, while the name or the
    address must wait, here or as the app's records say (``stored_wait``: another process, an earlier run).
    A failure is recorded through ``record_failure`` (``None`` for a name that does not exist); the caller
    records a success once it lets the account in."""
    wait = (stored_wait(username, address) if password_hash is not None else 0) or gate.admit(username, address)
    if wait:
        raise LoginThrottled(wait)
    if password_hash is None:
        verify_nobody(password)  # a miss costs what a wrong password costs
        record_failure(None, address)
        return False
    if not verify_password(password, password_hash):
        record_failure(username, address)
        return False
    gate.succeeded(username, address)
    return True


class FailureRecord(Protocol):
    """A stored record of one account's failed logins from one address (each app's ``LoginFailure`` row)."""

    failures: int
    first_at: datetime
    last_at: datetime
    throttled_until: datetime | None
    succeeded_at: datetime | None


def record_wait(record: FailureRecord | None, now: datetime) -> int:
    """Whole seconds a stored record still makes the next try wait: how one hub process honours another's."""
    until = as_utc(record.throttled_until) if record is not None else None
    if until is None or until <= now:
        return 0
    return min(MAX_DELAY_S, math.ceil((until - now).total_seconds()))  # a clock set back never makes it longer


def note_failure(record: FailureRecord, now: datetime, *, free: int = FREE_FAILURES) -> bool:
    """Count one more failure in ``record`` (afresh after a success or a quiet spell) and set its delay; True
    when this failure is the one that starts the delays, the moment worth one audit entry."""
    last_at, succeeded_at = as_utc(record.last_at), as_utc(record.succeeded_at)
    fresh = (record.failures == 0 or (succeeded_at is not None and succeeded_at >= last_at)
             or (now - last_at).total_seconds() >= QUIET_RESET_S)
    record.failures = 1 if fresh else record.failures + 1
    if fresh:
        record.first_at = now
    record.last_at = now
    delay = delay_after(record.failures, free)
    record.throttled_until = now + timedelta(seconds=delay) if delay else None
    return record.failures == free


def note_success(record: FailureRecord, now: datetime) -> None:
    """The right password: no more delay; the failures stay on record for the administrator, with the success."""
    record.throttled_until, record.succeeded_at = None, now
