"""Bytes per idle event stream, HTTP/1.1 connection against HTTP/2 stream, by tracemalloc.

A deterministic companion to ``compare.py``'s *idle* and *h2-idle* RSS figures: an
in-process server (``serve_listeners`` on a loopback TCP port, so the sockets take the
same file-descriptor path as in production) serves the demo's seed ticker with a one-hour
interval. The script opens *count* idle event streams as HTTP/1.1 connections, then the
same number as HTTP/2 streams (100 to a connection, the server's default
``SETTINGS_MAX_CONCURRENT_STREAMS``), and reports the memory Python allocated per stream
while they stay open, with the lines that allocated the most. The client runs in this
process too (``_streamclients.py``); its allocations (every trace with a frame in that
file) are left out.

Run: ``python benchmarks/stream_memory.py [--count 200] [--top 25]``.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from typing import Final

import _streamclients
import trio
import trio.testing
from _streamclients import open_h1, open_h2

import trio_sse
from trio_sse._demo.seed import add_seed_routes

#: Frames kept per allocation: enough to reach a client frame from any of the client's.
FRAMES: Final = 32


async def settle(server: trio_sse.Server, count: int) -> None:
    """Until every task is parked, with *count* tickers running."""
    await trio.testing.wait_all_tasks_blocked(cushion=0.05)
    assert server.statistics().tickers_active == count


def traced() -> tracemalloc.Snapshot:
    """A snapshot without the client's allocations, nor tracemalloc's own."""
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(False, _streamclients.__file__, all_frames=True),
            tracemalloc.Filter(False, tracemalloc.__file__),
        ]
    )


async def measure(
    opener: str, count: int
) -> tuple[float, list[tracemalloc.StatisticDiff], trio_sse.ServerStatistics]:
    """Bytes per stream of *count* streams opened by *opener* (``"h1"``, ``"h2"``)."""
    router = trio_sse.Router()
    add_seed_routes(router, 3600.0)
    server = trio_sse.Server(router)
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        await nursery.start(server.serve_listeners, listeners)
        port = listeners[0].socket.getsockname()[1]
        # Warm-up: one stream of the kind measured, so first-use caches are not counted.
        warm = await (open_h1 if opener == "h1" else open_h2)(port, 1)
        await settle(server, 1)
        before = traced()
        streams = await (open_h1 if opener == "h1" else open_h2)(port, count)
        await settle(server, count + 1)
        after = traced()
        stats = server.statistics()
        for stream in warm + streams:
            await stream.aclose()
        nursery.cancel_scope.cancel()
    diff = after.compare_to(before, "lineno")
    total = sum(d.size_diff for d in diff)
    return total / count, diff, stats


async def main(count: int, top: int) -> None:
    tracemalloc.start(FRAMES)
    h1, h1_diff, _ = await measure("h1", count)
    h2_, h2_diff, _ = await measure("h2", count)
    tracemalloc.stop()
    print(f"{count} idle event streams, bytes allocated per stream (tracemalloc):")
    print(f"  HTTP/1.1 connection: {h1:8,.0f}")
    print(f"  HTTP/2 stream:       {h2_:8,.0f}  ({h2_ / h1:.2f}x)")
    for name, diff in (("HTTP/1.1", h1_diff), ("HTTP/2", h2_diff)):
        if top:
            print(f"\n{name}: the {top} lines that allocated the most, bytes per stream")
            for stat in diff[:top]:
                frame = stat.traceback[0]
                print(f"  {stat.size_diff / count:7,.0f}  {frame.filename}:{frame.lineno}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    trio.run(main, args.count, args.top)
