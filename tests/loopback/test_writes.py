"""Raw socket writes (``HTTPConnection._write``) over real loopback sockets.

On a ``trio.SocketStream`` the server writes with ``os.write`` on the socket's file
descriptor and waits with ``trio.lowlevel.wait_writable`` only when the kernel buffer is
full, for at most ``Config.send_timeout``. These tests run the server in-process on
``127.0.0.1:0`` and drive it with real client sockets: clients that read slowly (a small
``SO_RCVBUF`` keeps the kernel from buffering the whole response, so writes really are
partial and really wait), clients that never read, clients that reset, and a burst that
must still let other tasks run.

Real time is used, but every wait is bounded with ``trio.fail_after`` and no test needs
more than a fraction of a second when the server is right. ``os.write`` and
``trio.lowlevel.wait_writable`` are observed (not replaced) through ``WriteSpy`` (the
``spy`` fixture), so each test also checks that it exercised the path it is about.

No test polls: it waits on events. The spy's ``blocked`` event is set when a write first
finds the socket full; the producers of these tests set events when they end; and a client
that is done half-closes its socket and reads until the server closes its end, which the
server does after the connection has left its counters. The slow readers pause between
reads on purpose (real sleeps that pace the reader, not polls).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import string
import struct
from typing import TYPE_CHECKING

import h11
import pytest
import trio
import trio.testing

import trio_sse
from trio_sse._transport import YIELD_EVERY

from ..helpers import running_server

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ..helpers import WriteSpy

pytestmark = pytest.mark.skipif(os.name != "posix", reason="raw socket writes are POSIX only")

SSE_REQUEST = b"GET / HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"
LIMIT = 5.0  # any single wait; only reached when something is broken
SMALL_RCVBUF = 8192  # the client's receive buffer: no autotuning, so the server blocks


async def connect(port: int, *, rcvbuf: int | None = None) -> trio.SocketStream:
    """A client socket; with *rcvbuf* its receive buffer is fixed (set before connecting)."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        await sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


def reset(stream: trio.SocketStream) -> None:
    """Close with RST (``SO_LINGER`` = (1, 0))."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def read_response(
    stream: trio.SocketStream,
    conn: h11.Connection,
    *,
    max_bytes: int = 65536,
    pause_every: int = 0,
    pause: float = 0.0,
) -> tuple[h11.Response, bytes]:
    """Read one whole response with h11; sleep *pause* every *pause_every* reads."""
    head: h11.Response | None = None
    body: list[bytes] = []
    reads = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(max_bytes)))
            reads += 1
            if pause_every and reads % pause_every == 0:
                await trio.sleep(pause)  # a slow reader's pace (not a poll)
        elif isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return head, b"".join(body)
        else:
            raise AssertionError(f"unexpected {event!r}")


async def read_until_closed(stream: trio.SocketStream) -> tuple[bytes, str]:
    """Everything the peer sends until EOF or reset; and which of the two it was."""
    chunks: list[bytes] = []
    while True:
        try:
            data = await stream.receive_some(65536)
        except trio.BrokenResourceError:
            return b"".join(chunks), "reset"
        if not data:
            return b"".join(chunks), "eof"
        chunks.append(bytes(data))


def assert_idle(server: trio_sse.Server) -> None:
    stats = server.statistics()
    assert (stats.connections_open, stats.event_streams_open, stats.tickers_active) == (0, 0, 0)


async def wait_idle(server: trio_sse.Server) -> None:
    """After an event that says the server is on its way out (a producer ended because the
    peer left, or the server closed its end): what is left are scheduling rounds, no I/O,
    so the wait for every task to block is enough. Then nothing may be held."""
    await trio.testing.wait_all_tasks_blocked()
    assert_idle(server)


async def hang_up(server: trio_sse.Server, stream: trio.SocketStream) -> None:
    """Half-close, and read until the server closes its end (bounded): the server closes
    the socket after the connection has left its counters. Then nothing may be held."""
    with trio.fail_after(LIMIT):
        await stream.send_eof()
        rest, how = await read_until_closed(stream)
    assert (rest, how) == (b"", "eof")
    await wait_idle(server)


def stream_app(
    producer: Callable[[trio_sse.EventStream], Awaitable[None]],
    farewell: trio_sse.ServerSentEvent | None = None,
) -> trio_sse.App:
    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(producer, heartbeat=None, farewell=farewell)

    return app


# -- slow readers get every byte ------------------------------------------------------------

EVENT_COUNT = 100
EVENT_SIZE = 32 * 1024


def big_event(i: int) -> trio_sse.ServerSentEvent:
    data = string.ascii_letters[i % 52] * (EVENT_SIZE - 8) + f"{i:08d}"
    return trio_sse.ServerSentEvent(data, id=str(i))


async def test_slow_reader_gets_every_byte_of_a_fast_producer(spy: WriteSpy) -> None:
    finished: list[bool] = []

    async def fast(stream: trio_sse.EventStream) -> None:
        for i in range(EVENT_COUNT):
            await stream.send(big_event(i))
        finished.append(True)

    async with running_server(stream_app(fast)) as server:
        stream = await connect(server.port, rcvbuf=SMALL_RCVBUF)
        async with stream:
            with trio.fail_after(LIMIT):
                await stream.send_all(SSE_REQUEST)
                await spy.blocked.wait()  # not reading yet: the server's writes back up
                blocked_early = spy.waits
                head, body = await read_response(
                    stream, h11.Connection(h11.CLIENT), max_bytes=8192, pause_every=8, pause=0.002
                )
            await hang_up(server, stream)
        assert head.status_code == 200
        assert finished == [True]
        events = trio_sse.client.parse_events(body)
        assert len(events) == EVENT_COUNT
        assert events == [big_event(i) for i in range(EVENT_COUNT)]
        assert body == b"".join(big_event(i).encode() for i in range(EVENT_COUNT))
        # the slow path was taken: partial writes, then waits until writable
        assert blocked_early >= 1
        assert spy.partial >= 1
        assert spy.waits >= spy.partial
        stats = server.statistics()
        assert stats.slow_clients_dropped == 0
        assert stats.events_sent == EVENT_COUNT
        assert stats.bytes_sent == len(body)
        assert stats.handler_errors == 0


async def test_one_mebibyte_response_reaches_a_slow_reader(spy: WriteSpy) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def app(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(payload, content_type="application/octet-stream")

    async with running_server(app) as server:
        stream = await connect(server.port, rcvbuf=SMALL_RCVBUF)
        async with stream:
            with trio.fail_after(LIMIT):
                await stream.send_all(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
                await spy.blocked.wait()  # not reading yet: the server's writes back up
                head, body = await read_response(
                    stream, h11.Connection(h11.CLIENT), max_bytes=4096, pause_every=16, pause=0.002
                )
            await hang_up(server, stream)
        assert head.status_code == 200
        assert dict(head.headers)[b"content-length"] == b"1048576"
        assert len(body) == len(payload)
        assert body == payload
        assert spy.partial >= 1
        assert spy.waits >= 1
        assert server.statistics().slow_clients_dropped == 0


# -- clients that do not read are dropped after send_timeout ------------------------------


async def test_client_that_never_reads_is_dropped_after_send_timeout(
    spy: WriteSpy, caplog: pytest.LogCaptureFixture
) -> None:
    ended: list[type[BaseException]] = []
    written: list[int] = []
    gone = trio.Event()

    async def firehose(stream: trio_sse.EventStream) -> None:
        try:
            while True:
                await stream.send(trio_sse.ServerSentEvent("x" * 4096))
                written.append(1)
        except BaseException as exc:
            ended.append(type(exc))
            gone.set()
            raise

    config = trio_sse.Config(send_timeout=0.3, shutdown_grace_period=1)
    with caplog.at_level(logging.DEBUG):
        async with running_server(stream_app(firehose), config) as server:
            stream = await connect(server.port, rcvbuf=SMALL_RCVBUF)
            async with stream:
                await stream.send_all(SSE_REQUEST)
                sent_at = trio.current_time()
                with trio.fail_after(LIMIT):
                    await gone.wait()  # the stream opened, its writes blocked, it was dropped
                elapsed = trio.current_time() - sent_at
                assert ended == [trio_sse.SlowClientError]  # raised by its send
                assert written  # it did write before the buffers filled up
                assert spy.waits >= 1
                await wait_idle(server)
                stats = server.statistics()
                assert stats.slow_clients_dropped == 1
                assert stats.stream_disconnects == 1
                assert stats.handler_errors == 0
                # the server closed its end: what it had buffered arrives, then the end
                with trio.fail_after(LIMIT):
                    data, how = await read_until_closed(stream)
    assert elapsed >= 0.3
    assert how in ("eof", "reset")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"data: xxxx" in data
    assert not data.endswith(b"\r\n0\r\n\r\n")  # dropped: no terminating chunk
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [r for r in caplog.records if r.exc_info] == []


# -- fairness: a burst of writes lets other tasks run ------------------------------------


async def test_burst_of_writes_has_schedule_points() -> None:
    count = 160
    spins = [0]
    spinning = [True]
    progress: list[int] = []

    async def spin() -> None:
        while spinning[0]:
            await trio.lowlevel.checkpoint()
            spins[0] += 1

    async def burst(stream: trio_sse.EventStream) -> None:
        before = spins[0]
        for i in range(count):  # no await but the writes
            await stream.send(trio_sse.ServerSentEvent(str(i)))
        progress.append(spins[0] - before)

    async with running_server(stream_app(burst)) as server, trio.open_nursery() as nursery:
        nursery.start_soon(spin)
        try:
            stream = await connect(server.port)
            async with stream:
                with trio.fail_after(LIMIT):
                    await stream.send_all(SSE_REQUEST)
                    head, body = await read_response(stream, h11.Connection(h11.CLIENT))
        finally:
            spinning[0] = False
    assert head.status_code == 200
    assert [e.data for e in trio_sse.client.parse_events(body)] == [str(i) for i in range(count)]
    # without schedule points the side task would not have run at all during the burst
    (advanced,) = progress
    assert advanced >= count // YIELD_EVERY - 1


async def test_a_send_in_a_cancelled_scope_raises_and_writes_nothing(
    spy: WriteSpy,
) -> None:
    caught: list[bool] = []

    async def producer(stream: trio_sse.EventStream) -> None:
        await stream.send(trio_sse.ServerSentEvent("before"))
        writes = spy.writes
        with trio.CancelScope() as scope:
            scope.cancel()
            await stream.send(trio_sse.ServerSentEvent("never"))
        caught.append(scope.cancelled_caught)
        assert spy.writes == writes

    async with running_server(stream_app(producer)) as server:
        stream = await connect(server.port)
        async with stream:
            with trio.fail_after(LIMIT):
                await stream.send_all(SSE_REQUEST)
                data = b""
                # the end of the response: its terminating chunk (or, should that be
                # lost, the connection closing without one)
                while not data.endswith(b"\r\n0\r\n\r\n"):
                    chunk = bytes(await stream.receive_some(65536))
                    if not chunk:
                        break
                    data += chunk
            await hang_up(server, stream)
        assert caught == [True]
        assert b"data: before\n\n" in data
        assert b"never" not in data


FAREWELL = trio_sse.ServerSentEvent("bye", event="shutdown")


async def shut_down_during_a_write_burst() -> tuple[bytes, str, list[type[BaseException]], float]:
    """Serve a producer that only writes, to a client that keeps reading; shut the server
    down mid-burst. The client's bytes, how it ended, how the producer ended, and how long
    the shutdown took."""
    ended: list[type[BaseException]] = []
    config = trio_sse.Config(shutdown_grace_period=30)

    async def tight(stream: trio_sse.EventStream) -> None:
        try:
            while True:
                await stream.send(trio_sse.ServerSentEvent("y" * 100))
        except BaseException as exc:
            ended.append(type(exc))
            raise

    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            server_scope = trio.CancelScope()

            async def run_server(*, task_status: trio.TaskStatus[trio_sse.Server]) -> None:
                with server_scope:
                    await trio_sse.serve(
                        stream_app(tight, FAREWELL),
                        "127.0.0.1",
                        0,
                        config=config,
                        task_status=task_status,
                    )

            server: trio_sse.Server = await nursery.start(run_server)
            stream = await connect(server.port)
            async with stream:
                await stream.send_all(SSE_REQUEST)
                received = b""
                while received.count(b"data: yyy") < 20:
                    received += bytes(await stream.receive_some(65536))
                stopped_at = trio.current_time()
                server_scope.cancel()  # the server shuts down; we keep reading
                rest, how = await read_until_closed(stream)
    assert server.statistics().connections_open == 0
    return received + rest, how, ended, trio.current_time() - stopped_at


async def test_shutdown_stops_a_producer_that_only_writes() -> None:
    """Its writes are cancellation points: it ends long before the grace period (30 s)
    would cancel it (the whole run is bounded by LIMIT, 5 s, a hang guard)."""
    raw, how, ended, _ = await shut_down_during_a_write_burst()
    assert ended == [trio.Cancelled]
    assert how == "eof"
    head, _, chunks = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    # whatever was written is whole chunks of whole events
    body = b""
    while chunks and chunks != b"0\r\n\r\n":
        size, _, chunks = chunks.partition(b"\r\n")
        length = int(size, 16)
        body += chunks[:length]
        assert chunks[length : length + 2] == b"\r\n"
        chunks = chunks[length + 2 :]
    events = trio_sse.client.parse_events(body)
    assert len(events) >= 20
    assert body == b"".join(e.encode() for e in events)
    assert all(e.data == "y" * 100 for e in events if e.event != "shutdown")


async def test_shutdown_during_a_write_burst_still_sends_the_farewell() -> None:
    raw, how, ended, _ = await shut_down_during_a_write_burst()
    assert ended == [trio.Cancelled]
    assert how == "eof"
    farewell = FAREWELL.encode()
    assert raw.endswith(b"%x\r\n%b\r\n0\r\n\r\n" % (len(farewell), farewell))


# -- peers that reset -------------------------------------------------------------------


@pytest.mark.parametrize("when", ["writing freely", "blocked on a full buffer"])
async def test_peer_reset_while_the_producer_writes(
    when: str, spy: WriteSpy, caplog: pytest.LogCaptureFixture
) -> None:
    ended: list[type[BaseException]] = []
    gone = trio.Event()

    async def writer(stream: trio_sse.EventStream) -> None:
        try:
            while True:
                await stream.send(trio_sse.ServerSentEvent("z" * 4096))
        except BaseException as exc:
            ended.append(type(exc))
            gone.set()
            raise

    with caplog.at_level(logging.DEBUG):
        async with running_server(stream_app(writer)) as server:
            stream = await connect(server.port, rcvbuf=SMALL_RCVBUF)
            with trio.fail_after(LIMIT):
                await stream.send_all(SSE_REQUEST)
                if when == "writing freely":
                    received = b""
                    while received.count(b"data: zzz") < 10:
                        received += bytes(await stream.receive_some(65536))
                else:
                    await spy.blocked.wait()  # the server's write waits for the client
                assert server.statistics().tickers_active == 1
                reset(stream)
                await gone.wait()  # the server noticed: the producer was stopped
                await wait_idle(server)
            await stream.aclose()
            stats = server.statistics()
            assert stats.stream_disconnects == 1
            assert stats.handler_errors == 0
            assert stats.slow_clients_dropped == 0
    (kind,) = ended
    assert kind in (trio.Cancelled, trio_sse.StreamClosedError)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [r for r in caplog.records if r.exc_info] == []


# -- plain responses --------------------------------------------------------------------


def plain_app() -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/text")
    async def text(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response("alpha")

    @router.route("/bytes")
    async def raw(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response(bytes(range(256)), content_type="application/octet-stream")

    @router.route("/empty")
    async def empty(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response(b"", status=204)

    return router


DATE = re.compile(rb"\r\ndate: ([A-Za-z]{3}, \d\d [A-Za-z]{3} \d{4} \d\d:\d\d:\d\d GMT)\r\n")


async def test_keep_alive_get_responses_are_byte_exact(spy: WriteSpy) -> None:
    def expect(
        content_type: bytes, length: int | None, body: bytes, status: bytes
    ) -> Callable[[bytes], bytes]:
        def with_date(date: bytes) -> bytes:
            head = b"HTTP/1.1 " + status + b"\r\n"
            if content_type:
                head += b"Content-Type: " + content_type + b"\r\n"
            head += b"date: " + date + b"\r\n"
            if length is not None:
                head += b"content-length: " + str(length).encode() + b"\r\n"
            return head + b"\r\n" + body

        return with_date

    cases = [
        ("/text", expect(b"text/plain; charset=utf-8", 5, b"alpha", b"200 OK")),
        ("/bytes", expect(b"application/octet-stream", 256, bytes(range(256)), b"200 OK")),
        ("/empty", expect(b"", None, b"", b"204 No Content")),
        ("/missing", None),
        ("/text", expect(b"text/plain; charset=utf-8", 5, b"alpha", b"200 OK")),
    ]
    async with running_server(plain_app()) as server:
        stream = await connect(server.port)
        async with stream:
            with trio.fail_after(LIMIT):
                for path, expected in cases:
                    await stream.send_all(b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path.encode())
                    conn = h11.Connection(h11.CLIENT)
                    conn.send(h11.Request(method="GET", target=path, headers=[("Host", "t")]))
                    conn.send(h11.EndOfMessage())
                    raw = b""
                    while True:  # read exactly one response, checking its framing with h11
                        event = conn.next_event()
                        if isinstance(event, h11.EndOfMessage):
                            break
                        if event is h11.NEED_DATA:
                            data = bytes(await stream.receive_some(65536))
                            assert data, f"EOF after {raw!r}"
                            raw += data
                            conn.receive_data(data)
                    assert conn.trailing_data == (b"", False)  # nothing beyond it
                    match = DATE.search(raw)
                    assert match is not None, raw
                    if expected is None:
                        assert raw.startswith(b"HTTP/1.1 404 Not Found\r\n"), raw
                    else:
                        assert raw == expected(match.group(1)), path
            assert server.statistics().connections_open == 1  # one connection throughout
            assert server.statistics().connections_total == 1
            await hang_up(server, stream)
        stats = server.statistics()
        assert stats.requests_total == len(cases)
        assert dict(stats.responses_by_status) == {200: 3, 204: 1, 404: 1}
    assert spy.writes == len(cases)  # one write() per response
    assert spy.partial == spy.waits == 0
