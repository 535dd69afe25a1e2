"""The keep-alive read, ``Transport.read_after_turn``, over a real socket pair.

The request loop reads the next request of a keep-alive connection after one schedule
point (so a client that answers at once cannot hold the loop for ``YIELD_EVERY``
requests in a row, a tail latency of several scheduler batches for every other client)
and without waiting: ``None`` tells it to wait under its idle timer.
"""

from __future__ import annotations

import os

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_sse._transport import Transport

pytestmark = pytest.mark.skipif(os.name != "posix", reason="raw socket reads are POSIX only")


def socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    a, b = trio.socket.socketpair()
    return trio.SocketStream(a), trio.SocketStream(b)


class Reschedules(trio.abc.Instrument):
    """Counts how often one task is put back on the run queue (each schedule point)."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.count = 0

    def task_scheduled(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.count += 1


async def test_reads_what_has_arrived_after_one_schedule_point() -> None:
    ours, peer = socket_pair()
    transport = Transport(ours, send_timeout=1.0)
    assert transport.raw
    async with ours, peer:
        await peer.send_all(b"GET / HTTP/1.1\r\n\r\n")
        turns = Reschedules(trio.lowlevel.current_task())
        trio.lowlevel.add_instrument(turns)
        try:
            data = await transport.read_after_turn()
        finally:
            trio.lowlevel.remove_instrument(turns)
        assert data == b"GET / HTTP/1.1\r\n\r\n"
        assert turns.count == 1  # one trip through the scheduler, no wait for the socket


async def test_nothing_yet_is_none_and_eof_is_empty() -> None:
    ours, peer = socket_pair()
    transport = Transport(ours, send_timeout=1.0)
    async with ours:
        assert await transport.read_after_turn() is None
        await peer.aclose()
        assert await transport.read_after_turn() == b""


async def test_a_cancelled_scope_reads_nothing() -> None:
    ours, peer = socket_pair()
    transport = Transport(ours, send_timeout=1.0)
    async with ours, peer:
        await peer.send_all(b"x")
        with trio.CancelScope() as scope:
            scope.cancel()
            await transport.read_after_turn()
        assert scope.cancelled_caught
        assert await transport.read() == b"x"  # still there for the next read


async def test_a_stream_that_is_not_a_socket_always_waits() -> None:
    ours, peer = trio.testing.memory_stream_pair()
    transport = Transport(ours, send_timeout=1.0)
    assert not transport.raw
    await peer.send_all(b"x")
    assert await transport.read_after_turn() is None  # the caller reads with read()
    assert await transport.read() == b"x"
