"""The accept loop drains a socket listener's backlog without a checkpoint per connection.

Real loopback sockets: connections queued in the kernel's backlog before the server runs
are all accepted and served; ``accept_backlog`` skips per-connection errors and stops at
the first other one (the next ``listener.accept()`` reports it, as before).
"""

from __future__ import annotations

import errno
import os
import socket

import pytest
import trio

import trio_sse
import trio_sse.testing
from trio_sse._transport import ACCEPT_BATCH, accept_backlog, backlog_socket

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the backlog drain is POSIX only")

LIMIT = 10.0


async def ok(request: trio_sse.Request) -> trio_sse.Response:
    return trio_sse.Response("ok")


async def test_a_queued_burst_is_accepted_and_served() -> None:
    """More connections than ACCEPT_BATCH wait in the backlog; every one is answered."""
    count = ACCEPT_BATCH * 2 + 7
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1", backlog=count * 2)
    port = listeners[0].socket.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    try:
        for sock in clients:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        server = trio_sse.Server(ok)
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve_listeners, listeners)
                answers = []
                for sock in clients:
                    sock.setblocking(False)
                    data = b""
                    while not data.endswith(b"\r\n\r\nok"):
                        await trio.lowlevel.wait_readable(sock)
                        data += sock.recv(65536)
                    answers.append(data.split(b"\r\n", 1)[0])
                nursery.cancel_scope.cancel()
        assert answers == [b"HTTP/1.1 200 OK"] * count
        assert server.statistics().connections_total == count
    finally:
        for sock in clients:
            sock.close()


class FakeBacklog:
    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.calls = 0

    def accept(self) -> tuple[socket.socket, object]:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        a, b = socket.socketpair()
        b.close()
        return a, None


@pytest.mark.parametrize(
    ("outcomes", "accepted", "calls"),
    [
        ([BlockingIOError()], 0, 1),
        ([None, None, BlockingIOError()], 2, 3),
        # one connection's error is skipped; the drain goes on
        ([OSError(errno.ECONNABORTED, "x"), None, BlockingIOError()], 1, 3),
        # out of file descriptors: stop; the next listener.accept() reports it
        ([None, OSError(errno.EMFILE, "x"), None], 1, 2),
    ],
)
async def test_drain_backlog_errors(
    outcomes: list[BaseException | None], accepted: int, calls: int
) -> None:
    fake = FakeBacklog(list(outcomes))
    served = list(accept_backlog(fake))  # type: ignore[arg-type]
    try:
        assert (len(served), fake.calls) == (accepted, calls)
        assert all(isinstance(s, trio.SocketStream) for s in served)
    finally:
        for stream in served:
            await stream.aclose()


async def test_drain_takes_at_most_a_batch() -> None:
    fake = FakeBacklog([None] * (ACCEPT_BATCH + 5))
    served = list(accept_backlog(fake))  # type: ignore[arg-type]
    try:
        assert (len(served), fake.calls) == (ACCEPT_BATCH, ACCEPT_BATCH)
    finally:
        for stream in served:
            await stream.aclose()


async def test_backlog_socket_only_for_socket_listeners() -> None:
    assert backlog_socket(trio_sse.testing.MemoryListener()) is None
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    dup = backlog_socket(listeners[0])
    try:
        assert dup is not None
        assert dup.fileno() != listeners[0].socket.fileno()
        assert dup.getsockname() == listeners[0].socket.getsockname()
        assert dup.getblocking() is False
    finally:
        if dup is not None:
            dup.close()
        await listeners[0].aclose()
