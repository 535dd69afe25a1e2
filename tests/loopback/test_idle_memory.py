"""The memory of an idle HTTP/1.1 event stream over a real socket, against Trio's floor.

``benchmarks/idle_floor.py`` in a test: tracemalloc counts what the server allocates for
each idle stream (TCP on ``127.0.0.1``, the raw file-descriptor path) and what the bare
Trio structure an event stream must have costs in the same process (a connection task
with a nursery, a sleeping child task, a deadline scope and a wait on a socket). Their
ratio, not a number of bytes, is bounded: it holds across Python versions, whose frames
and objects differ in size (1.54 on 3.10, 1.60 on 3.11, 1.59 on 3.12 and 3.13; 1.73,
1.82, 1.80 and 1.80 before issue 15's idle work). The bound, 1.70, leaves some 17% of
headroom on what trio-sse adds above the floor (6% on the total). It is measured in a
fresh interpreter without coverage, and blocks of 4 KiB and more are left out of both
counts (see ``_CONTAINER_TABLE``): the ratio is then the same to three digits from run
to run.
"""

from __future__ import annotations

import gc
import os
import pathlib
import socket
import subprocess
import sys
import tracemalloc

import pytest
import trio
import trio.lowlevel

from ..helpers import running_server, ticker_app

pytestmark = pytest.mark.skipif(os.name != "posix", reason="raw socket reads are POSIX only")

STREAMS = 200
REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n"


#: Blocks this large are the tables of the loop's own containers (a set of tasks, the
#: epoll registrations, a heap) growing by doubling: not a stream's, and where the
#: doubling falls varies from run to run. Every block a stream owns is smaller.
_CONTAINER_TABLE = 4096


def _traced() -> int:
    gc.collect()
    return sum(
        trace.size for trace in tracemalloc.take_snapshot().traces if trace.size < _CONTAINER_TABLE
    )


async def _server_bytes_per_stream(sockets: list[socket.socket]) -> float:
    async with running_server(ticker_app(interval=600.0)) as server:

        async def open_streams(count: int) -> None:
            expected = server.statistics().tickers_active + count
            for _ in range(count):
                # A blocking connect completes in the kernel's backlog: plain sockets
                # allocate next to nothing that is traced (a Trio client would).
                sock = socket.create_connection(("127.0.0.1", server.port))
                sock.sendall(REQUEST)
                sockets.append(sock)
                await trio.lowlevel.checkpoint()
            # Polled: a Tracker would add its own wrapper to every stream measured.
            with trio.fail_after(30):
                while server.statistics().tickers_active < expected:
                    await trio.sleep(0.01)
            await trio.sleep(0.1)  # every producer asleep, every watch waiting

        await open_streams(10)  # first-use allocations
        before = _traced()
        await open_streams(STREAMS)
        return (_traced() - before) / STREAMS


async def _floor_bytes_per_unit() -> float:
    async def producer() -> None:
        await trio.sleep_forever()

    async def connection(fd: int) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            with trio.CancelScope(deadline=trio.current_time() + 600.0):
                await trio.lowlevel.wait_readable(fd)

    pairs = [socket.socketpair() for _ in range(STREAMS + 10)]
    try:
        async with trio.open_nursery() as nursery:
            for ours, _ in pairs[:10]:
                nursery.start_soon(connection, ours.fileno())
            await trio.sleep(0.05)
            before = _traced()
            for ours, _ in pairs[10:]:
                nursery.start_soon(connection, ours.fileno())
            await trio.sleep(0.05)
            after = _traced()
            nursery.cancel_scope.cancel()
    finally:
        for a, b in pairs:
            a.close()
            b.close()
    return (after - before) / STREAMS


async def measure() -> tuple[float, float]:
    """``(bytes per idle stream, bytes per floor unit)``, traced in this process."""
    sockets: list[socket.socket] = []
    tracemalloc.start(1)
    try:
        ours = await _server_bytes_per_stream(sockets)
        floor = await _floor_bytes_per_unit()
    finally:
        tracemalloc.stop()
        for sock in sockets:
            sock.close()
    return ours, floor


_CHILD = """
import sys, trio
from tests.loopback.test_idle_memory import measure
traced = sys.gettrace() is not None or (
    sys.version_info >= (3, 12) and sys.monitoring.get_tool(sys.monitoring.COVERAGE_ID) is not None
)
print(traced, *trio.run(measure))
"""


def test_an_idle_http11_stream_costs_under_1_70x_the_bare_trio_structure() -> None:
    # Measured in a fresh interpreter without coverage: a tracer allocates as it records
    # lines (tens of KB, by chance inside the traced window or not), and earlier tests
    # leave caches behind; either blurs a count of a few KB per stream.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        cwd=pathlib.Path(__file__).parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    traced, ours, floor = child.stdout.split()
    assert traced == "False"  # (else the figures are not the server's alone)
    ratio = float(ours) / float(floor)
    assert ratio < 1.70, (ours, floor, ratio)
