"""Where an idle event stream's memory goes, against what its task structure costs in Trio.

The *idle* scenario of ``compare.py`` measures RSS per idle SSE stream from outside. This
script measures the same thing from inside, with ``tracemalloc``, and attributes it:

1. **trio-sse**: the demo app (interval 10 min, so every stream is idle) is served on a
   loopback port in this process; ``--streams`` plain sockets (``socket`` module, not
   Trio, so the client side allocates next to nothing that is traced) each send ``GET /``
   with ``Accept: text/event-stream``. The traced allocations made while they open, after
   a full collection, are divided by the stream count, and grouped by the nearest frame in
   ``trio_sse`` (what our code caused, including the Trio and h11 objects it asked for)
   and by file.
2. **The floor**: the same number of units of the structure an event stream must have
   with nothing else, in plain Trio: a connection task that opens a nursery, starts a
   child task (the producer, asleep), and waits for its socket to become readable inside a
   cancel scope with a deadline (the heartbeat). No HTTP, no h11, no request.

The difference between the two is what trio-sse adds (h11's connection state, the
request and its headers, our connection, channel, stream and body objects, deeper stacks).

Loopback only, bounded (a few seconds)::

    python benchmarks/idle_floor.py --streams 500
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import socket
import tracemalloc

import trio

import trio_sse
from trio_sse._demo import build_demo_app

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"


def per_unit(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, units: int) -> float:
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / units


async def open_streams(server: trio_sse.Server, count: int, sockets: list[socket.socket]) -> None:
    """Open *count* event streams; return when each one's producer runs."""
    expected = server.statistics().tickers_active + count
    for _ in range(count):
        # A blocking connect completes in the kernel's backlog without our accept loop.
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(REQUEST)
        sockets.append(sock)
        await trio.lowlevel.checkpoint()  # let the server accept as we go
    with trio.fail_after(60):
        while server.statistics().tickers_active < expected:  # noqa: ASYNC110 (a counter)
            await trio.sleep(0.05)
    await trio.sleep(0.2)  # every producer asleep, nothing in flight


async def measure_trio_sse(streams: int, top: int) -> float:
    sockets: list[socket.socket] = []
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio_sse.serve, build_demo_app(interval=600.0), "127.0.0.1", 0)
        server: trio_sse.Server = await nursery.start(serve)
        await open_streams(server, 20, sockets)  # warm up: first-use allocations
        gc.collect()
        tracemalloc.start(30)
        before = tracemalloc.take_snapshot()
        await open_streams(server, streams, sockets)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        total = per_unit(before, after, streams)
        print(f"trio-sse: {total:,.0f} B per idle HTTP/1.1 event stream ({streams} streams)")
        by_frame: collections.Counter[str] = collections.Counter()
        for stat in after.compare_to(before, "traceback"):
            origin = "(outside trio_sse)"
            for frame in reversed(stat.traceback):
                if "trio_sse" in frame.filename:
                    origin = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
                    break
            by_frame[origin] += stat.size_diff
        print("  by the nearest trio_sse line (what it caused, in Trio and h11 too):")
        for origin, size in by_frame.most_common(top):
            print(f"  {size / streams:8,.0f} B  {origin}")
        print("  by file:")
        for stat in after.compare_to(before, "filename")[:top]:
            name = stat.traceback[0].filename.split("site-packages/")[-1]
            print(f"  {stat.size_diff / streams:8,.0f} B  {name}")
        for sock in sockets:
            sock.close()
        nursery.cancel_scope.cancel()
    return total


async def measure_floor(units: int) -> float:
    async def producer() -> None:
        await trio.sleep_forever()

    async def connection(fd: int) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            with trio.CancelScope(deadline=trio.current_time() + 600.0):
                await trio.lowlevel.wait_readable(fd)

    pairs = [socket.socketpair() for _ in range(units + 20)]
    async with trio.open_nursery() as nursery:
        for ours, _ in pairs[:20]:
            nursery.start_soon(connection, ours.fileno())
        await trio.sleep(0.1)
        gc.collect()
        tracemalloc.start(5)
        before = tracemalloc.take_snapshot()
        for ours, _ in pairs[20:]:
            nursery.start_soon(connection, ours.fileno())
        await trio.sleep(0.1)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        nursery.cancel_scope.cancel()
    for a, b in pairs:
        a.close()
        b.close()
    total = per_unit(before, after, units)
    print(
        f"floor: {total:,.0f} B per unit of the bare Trio structure (two tasks, a nursery, "
        "a deadline scope, a wait on a socket)"
    )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=500, help="idle streams (default 500)")
    parser.add_argument("--top", type=int, default=20, help="rows per breakdown (default 20)")
    args = parser.parse_args()
    if not 1 <= args.streams <= 5000:
        parser.error("--streams: between 1 and 5000")
    ours = trio.run(measure_trio_sse, args.streams, args.top)
    floor = trio.run(measure_floor, args.streams)
    print(f"trio-sse above the floor: {ours - floor:,.0f} B per stream")


if __name__ == "__main__":
    main()
