"""A loopback TCP proxy that behaves like a village link.

Rate limit in bit/s (shared by all connections, per direction, like one
radio link), one-way latency, and cuts: every N seconds, or after N bytes
on a connection, every open connection is dropped mid-stream. ``down``
refuses all traffic, as when there is no link for days. A side that resets
its connection (an abortive close) drops what it queued and the other side
sees the reset; a side that closes normally has its queued bytes delivered first.

    with LinkSimulator(("127.0.0.1", hub_port), rate_bps=64_000, latency_s=0.3, cut_every_s=5) as link:
        client = HubClient(link.url)
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

CHUNK = 2048
QUEUE_CHUNKS = 32


def _ignore_cancelled(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # Stopping the link cancels connections mid-flight; asyncio reports those as errors, they are not.
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


@dataclass
class LinkStats:
    bytes_up: int = 0
    bytes_down: int = 0
    connections: int = 0
    cuts: int = 0


class LinkSimulator:
    """Runs an asyncio proxy in a background thread; listen on ``.port``."""

    def __init__(self, target: tuple[str, int], *, rate_bps: float | None = None, latency_s: float = 0.0,
                 cut_every_s: float | None = None, cut_after_bytes: int | None = None):
        self.target = target
        self.rate_bps = rate_bps
        self.latency_s = latency_s
        self.cut_every_s = cut_every_s
        self.cut_after_bytes = cut_after_bytes
        self.down = False
        self.stats = LinkStats()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        # The connections' tasks, held here: asyncio keeps only weak references to tasks, and a connection
        # whose transports were cut can be left waiting on nothing but itself, collected while pending.
        self._connections: set[asyncio.Task] = set()
        self._free_at = {"up": 0.0, "down": 0.0}
        self._server: asyncio.base_events.Server | None = None
        self._cutter: asyncio.Task | None = None

    def __repr__(self) -> str:
        return (f"LinkSimulator(target={self.target}, rate_bps={self.rate_bps}, latency_s={self.latency_s}, "
                f"cut_every_s={self.cut_every_s}, cut_after_bytes={self.cut_after_bytes})")

    @property
    def open_connections(self) -> int:
        """Connections the link is carrying now (a cut ends every one of them)."""
        return len(self._connections)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LinkSimulator":
        self._loop.set_exception_handler(_ignore_cancelled)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> "LinkSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cut(self) -> None:
        """Drop every open connection now."""
        self._loop.call_soon_threadsafe(self._cut_all)

    def set_down(self, down: bool) -> None:
        """No link at all (connections refused and dropped) until set_down(False)."""
        self.down = down
        if down:
            self.cut()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._cutter = asyncio.ensure_future(self._cut_periodically())

    async def _stop(self) -> None:
        if self._server:
            self._server.close()
        self._cut_all(count=False)
        # Finish every pump and timer here, so none is left to die with the loop.
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cut_periodically(self) -> None:
        # cut_every_s may change while the link runs (a benchmark moves from one scenario to the next).
        while True:
            if not self.cut_every_s:
                await asyncio.sleep(0.1)
                continue
            await asyncio.sleep(self.cut_every_s)
            if self.cut_every_s:
                self._cut_all()

    def _cut_all(self, count: bool = True) -> None:
        if self._writers and count:
            self.stats.cuts += 1
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for connection in list(self._connections):
            connection.cancel()
        # Chunks queued behind the cut never cross the link: their reserved air time is free again.
        now = time.monotonic()
        for direction, free_at in self._free_at.items():
            self._free_at[direction] = min(free_at, now)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.down:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.stats.connections += 1
        self._writers.update((client_writer, upstream_writer))
        connection = asyncio.current_task()
        self._connections.add(connection)
        budget = [self.cut_after_bytes]
        try:
            await asyncio.gather(
                self._pump(client_reader, upstream_writer, "up", budget, client_writer),
                self._pump(upstream_reader, client_writer, "down", budget, upstream_writer),
                return_exceptions=True,
            )
        finally:
            self._connections.discard(connection)
            for writer in (client_writer, upstream_writer):
                self._writers.discard(writer)
                writer.transport.abort()

    def _schedule(self, direction: str, size: int) -> float:
        """When this chunk has fully crossed the link and the latency has passed."""
        now = time.monotonic()
        start = max(now, self._free_at[direction])
        done = start + (size * 8 / self.rate_bps if self.rate_bps else 0.0)
        self._free_at[direction] = done
        return done + self.latency_s

    def _release(self, direction: str, queue: asyncio.Queue) -> None:
        """Give back the air time reserved by bytes that will never cross (a reset dropped them)."""
        dropped = 0
        while not queue.empty():
            dropped += len(queue.get_nowait()[1] or b"")
        if self.rate_bps and dropped:
            self._free_at[direction] = max(time.monotonic(), self._free_at[direction] - dropped * 8 / self.rate_bps)

    async def _pump(self, reader, writer, direction, budget, other_writer) -> None:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_CHUNKS)

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if data is None:
                    writer.write_eof() if writer.can_write_eof() else None
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except ConnectionError:
                    # The sender reset the connection: what it had queued never crosses (its air time is free
                    # again), and the other end learns of the reset at once, as over a real link.
                    self._release(direction, queue)
                    writer.transport.abort()
                    other_writer.transport.abort()
                    return
                if not data:
                    await queue.put((0.0, None))
                    break
                if budget[0] is not None:
                    budget[0] -= len(data)
                    if budget[0] < 0:
                        self.stats.cuts += 1
                        writer.transport.abort()
                        other_writer.transport.abort()
                        break
                if direction == "up":
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                await queue.put((self._schedule(direction, len(data)), data))
            await delivering
        finally:
            delivering.cancel()
