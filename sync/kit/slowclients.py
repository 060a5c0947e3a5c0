"""Slow and greedy clients: waitress's server and channel with deadlines and a share of connections per address.

Waitress closes a connection only after ``channel_timeout`` (120 s) without a byte, so a client that sends its
request head one byte a second (Slowloris) holds its connection for ever, and a hundred such sockets filled
waitress's connection limit: every other request waited in the listen backlog until they stopped. A village
laptop serves its office LAN and a township serves its villages with no nginx in front, so the runner both
servers share (sync/kit/web.py ``serve``) holds on its own:

- a request head must arrive whole within ``head_timeout_s`` of the connection's accept or, on a kept-alive
  connection, of its first byte;
- a body must keep up a minimum average rate: it may take ``body_timeout_s`` plus one second for every
  ``body_min_rate`` bytes received (mod_reqtimeout's rule), generous for a scan chunk over 2G, fatal to a trickle;
- one client address holds at most ``per_address`` connections, a share of ``connection_limit``; more are
  closed as they are accepted. The trusted proxy is exempt: every client behind it arrives from its address,
  and nginx limits them itself (docs/deploy.md).

A connection past a deadline is closed without an answer: its client is either hostile or so slow that it
would not read one. Each drop and refusal is counted, and the counts are logged at the next sweep and then as one
warning a minute at most, so an attack does not fill the log.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import click
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

# How long a request head (request line and headers, a few hundred bytes) may take to arrive. A browser sends one
# in a single packet; even a 2G link with 600 ms of latency delivers it in about a second.
HEAD_TIMEOUT_S = 10.0
# A body may take this long plus one second for every BODY_MIN_BYTES_PER_S bytes it has sent: a 1 MiB scan chunk
# over 2G at 5 KB/s earns ten times the time it needs, and a link that stalls keeps the slack it built up.
BODY_TIMEOUT_S = 20.0
BODY_MIN_BYTES_PER_S = 500
# Connections waitress keeps open at once (its own default is 100). Each point's sync holds one for a request and
# a few seconds of keep-alive, so a county's hundreds of points need far fewer; CPython's select() on Windows,
# where a point laptop serves, handles at most 512 sockets.
CONNECTION_LIMIT = 400
# The share of CONNECTION_LIMIT one client address may hold (80 connections): an office of browsers behind one
# NAT address fits, and five hostile addresses are needed to fill the server.
ADDRESS_SHARE = 0.2
# Seconds between sweeps of the open connections for deadlines (waitress's ``cleanup_interval``, whole seconds).
SWEEP_EVERY_S = 1
# At most one warning about dropped and refused connections in this many seconds, with the counts.
LOG_EVERY_S = 60.0
# IPv6 clients are counted by their /64: a subscriber gets a whole one and may use any address in it.
IPV6_CLIENT_PREFIX = 64

log = logging.getLogger("pointkit.http")

# ``serve``'s option for both programs: an office whose link is worse than 2G may give heads longer.
head_timeout_option = click.option(
    "--head-timeout", default=HEAD_TIMEOUT_S, show_default=True, type=click.FloatRange(1, 120),
    help="Seconds a client may take to send a request's line and headers; a connection still sending them after "
         "that is closed, so slow sockets cannot hold the server (docs/security.md).")


@dataclass(frozen=True, kw_only=True)
class ClientLimits:
    """What a client may take of the server: time for a request's head and body, and connections."""

    head_timeout_s: float = HEAD_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    body_min_rate: int = BODY_MIN_BYTES_PER_S
    connection_limit: int = CONNECTION_LIMIT
    address_share: float = ADDRESS_SHARE

    @property
    def per_address(self) -> int:
        """Connections one client address may hold at once."""
        return max(1, int(self.connection_limit * self.address_share))


def client_key(host: str) -> str:
    """The client a peer address stands for: an IPv4 address (also when mapped into IPv6), an IPv6 /64."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


class DropLog:
    """Counts of connections dropped or refused, by what happened and from where, logged as one warning a minute
    at most (an attack makes thousands of them)."""

    def __init__(self, *, every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.every_s, self.clock = every_s, clock
        self.counts: Counter[tuple[str, str]] = Counter()
        self.next_at = 0.0

    def note(self, what: str, client: str) -> None:
        """Count one; the server's next sweep logs it with the rest of its burst."""
        self.counts[(what, client)] += 1

    def flush(self) -> None:
        """Log what was counted, if there is any and the last warning is old enough."""
        now = self.clock()
        if not self.counts or now < self.next_at:
            return
        self.next_at = now + self.every_s
        worst = "; ".join(f"{count} {what} from {client}" for (what, client), count in self.counts.most_common(5))
        others = len(self.counts) - 5
        log.warning("slow or greedy clients: %s%s", worst, f"; and {others} more" if others > 0 else "")
        self.counts.clear()


class Drop(Enum):
    """Why a connection was closed, as the log says it (filled in with the limits)."""

    HEAD = "closed: request head incomplete after {head_timeout_s:g} s"
    BODY = "closed: body slower than {body_min_rate} bytes/s"
    SHARE = "refused: over one address's {per_address} connections"


class GuardedChannel(HTTPChannel):
    """A waitress connection that knows since when its client owes it a request head or the rest of a body."""

    def __init__(self, server: GuardedServer, sock: Any, addr: Any, adj: Adjustments, map: Any = None):
        self.client = client_key(addr[0])
        self.counted = False
        now = time.monotonic()
        # A new connection owes a head from its accept, so a socket that says nothing is dropped too; a kept-alive
        # one owes the next head from its first byte.
        self.owes_head = True
        self.head_started = now
        self.body_request: Any = None
        self.body_started = now
        self.body_bytes = 0
        super().__init__(server, sock, addr, adj, map)

    def add_channel(self, map: Any = None) -> None:
        super().add_channel(map)
        self.server.connections_by_client[self.client] += 1
        self.counted = True

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        if self.counted:
            self.counted = False
            connections = self.server.connections_by_client
            connections[self.client] -= 1
            if connections[self.client] <= 0:
                del connections[self.client]

    def received(self, data: bytes) -> bool:
        now = time.monotonic()
        if not self.owes_head:
            self.owes_head, self.head_started = True, now
        reading_body = self.request is not None and self.request is self.body_request
        answer = super().received(data)
        request = self.request
        if reading_body and request is self.body_request:
            self.body_bytes += len(data)
        elif request is not None and request.headers_finished and request is not self.body_request:
            self.body_request, self.body_started, self.body_bytes = request, now, 0
        if request is None and self.requests:
            self.owes_head = False  # a whole request came in: nothing is owed while it is served
        return answer

    def service(self) -> None:
        super().service()
        # Served: the connection owes nothing until its client sends again, unless the start of the next request
        # came in behind this one (pipelined, or a body waiting for its 100 Continue), which could not move while
        # this one was served: its clock starts now. A blank line is no request (waitress skips it), so it never
        # gets here and buys no time.
        now = time.monotonic()
        self.owes_head, self.head_started = self.request is not None, now
        if self.request is not None and self.request is self.body_request:
            self.body_started = now

    def overdue(self, now: float, limits: ClientLimits) -> Drop | None:
        """What the client is late with, or None while it is on time or the server is busy."""
        if self.requests or self.total_outbufs_len or self.will_close or self.close_when_flushed:
            return None
        request = self.request
        if request is not None and request.headers_finished:
            if request.completed or request is not self.body_request:
                return None
            allowed = limits.body_timeout_s + self.body_bytes / limits.body_min_rate
            return Drop.BODY if now - self.body_started > allowed else None
        return Drop.HEAD if self.owes_head and now - self.head_started > limits.head_timeout_s else None


class GuardedServer(TcpWSGIServer):
    """Waitress's TCP server that refuses a client address its connections beyond its share, and sweeps the open
    connections every second for heads and bodies past their deadlines."""

    channel_class = GuardedChannel

    def __init__(self, application: Any, *, limits: ClientLimits, **kw: Any):
        self.limits = limits
        self.connections_by_client: Counter[str] = Counter()
        self.drops = DropLog()
        super().__init__(application, **kw)
        proxy = self.adj.trusted_proxy
        self.exempt = client_key(proxy) if proxy and proxy != "*" else None

    def note_drop(self, drop: Drop, client: str) -> None:
        limits = self.limits
        self.drops.note(drop.value.format(head_timeout_s=limits.head_timeout_s, body_min_rate=limits.body_min_rate,
                                          per_address=limits.per_address), client)

    def handle_accept(self) -> None:
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            client = client_key(addr[0])
            if client != self.exempt and self.connections_by_client[client] >= self.limits.per_address:
                conn.close()
                self.note_drop(Drop.SHARE, client)
                return
            self.set_socket_options(conn)
        except OSError:
            # As waitress: a socket the client closed before its accept is no reason to stop serving.
            if self.adj.log_socket_errors:
                self.logger.warning("server accept() threw an exception", exc_info=True)
            return
        self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        clock = time.monotonic()
        for channel in list(self.active_channels.values()):
            late = channel.overdue(clock, self.limits)
            if late:
                channel.will_close = True
                self.note_drop(late, channel.client)
        self.drops.flush()


def create_guarded_server(app: Any, host: str, port: int, *, limits: ClientLimits = ClientLimits(),
                          channel_class: type[GuardedChannel] = GuardedChannel,
                          **adjustments: Any) -> GuardedServer | MultiSocketServer:
    """waitress's ``create_server`` for TCP with ``GuardedServer``: one per address ``host`` names, sharing one map
    and one pool of threads. ``adjustments`` are waitress's (threads, trusted_proxy, max_request_body_size…)."""
    adj = Adjustments(host=host, port=port, connection_limit=limits.connection_limit,
                      cleanup_interval=SWEEP_EVERY_S, asyncore_use_poll=hasattr(select, "poll"), **adjustments)
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict = {}
    servers = []
    for sockinfo in adj.listen:
        server = GuardedServer(app, limits=limits, map=socket_map, dispatcher=dispatcher, adj=adj, sockinfo=sockinfo)
        server.channel_class = channel_class
        servers.append(server)
    if len(servers) == 1:
        return servers[0]
    return MultiSocketServer(socket_map, adj, [(server.effective_host, server.effective_port) for server in servers],
                             dispatcher, servers[-1].log_info)
