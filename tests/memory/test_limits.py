"""Hostile clients, one test per case of the hardening issue's "Proof" list.

Every test checks the exact bytes the client receives (the ``date`` header, the only
variable part, is checked for its format and then masked) and that nothing is left behind
once the connection has ended: the server's gauges are zero, the nursery that ran the
connections has no child task left, and Trio's whole task tree is back to what it was
before the connections started. Every timing is asserted exactly, on the virtual clock
(``autojump_clock``).

Related tests elsewhere (not repeated here): ``test_http.py`` checks that the server keeps
serving other connections after each malformed request, the 408 for a slow body and the
idle keep-alive close; ``test_sse_stream.py`` has the never-reading client with a busy
producer (``test_client_that_never_reads_is_dropped_after_send_timeout``);
``test_hardening.py`` fuzzes request bytes and WebSocket frames.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import pytest
import trio
import trio.testing

import trio_sse
from trio_sse._transport import DRAIN_TIMEOUT
from trio_sse.testing import TestClient

from .conftest import read_until_eof
from .test_sockets import all_tasks, where

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SSE_REQUEST: Final = b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
SSE_HEAD: Final = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Cache-Control: no-cache\r\n"
    b"X-Accel-Buffering: no\r\n"
    b"date: DATE\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)
FIRST_CHUNK: Final = b"12\r\nid: 0\ndata: tick\n\n\r\n"  # 0x12 = 18 bytes
FAREWELL: Final = trio_sse.ServerSentEvent("bye", event="shutdown", retry=5000)


def error_response(status: int, reason: bytes) -> bytes:
    """The exact bytes of trio-sse's error answer (``_send_error``), date masked."""
    body = reason + b"\n"
    return (
        b"HTTP/1.1 %d %s\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\n"
        b"date: DATE\r\n"
        b"content-length: %d\r\n"
        b"\r\n%s"
    ) % (status, reason, len(body), body)


def ok_response(body: bytes, *, close: bool = False) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"date: DATE\r\n"
        b"content-length: %d\r\n%s"
        b"\r\n%s"
    ) % (len(body), b"Connection: close\r\n" if close else b"", body)


BAD_REQUEST: Final = error_response(400, b"Bad Request")
TOO_LARGE_HEAD: Final = error_response(431, b"Request Header Fields Too Large")
TIMEOUT: Final = error_response(408, b"Request Timeout")

_DATE: Final = re.compile(
    rb"date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    rb"|Dec) \d{4} \d\d:\d\d:\d\d GMT\r\n"
)


def masked(data: bytes | bytearray) -> bytes:
    """*data* with every well-formed ``date`` header value replaced by ``DATE``."""
    return _DATE.sub(b"date: DATE\r\n", bytes(data))


# -- the application and the bookkeeping ---------------------------------------------------


def hostile_app(events: list[tuple[str, float]] | None = None) -> trio_sse.Router:
    """``/`` answers ``ok``; ``/header`` echoes ``X-Name`` as the handler saw it;
    ``/events`` is an event stream with one event at once, then one every 2 s (or none
    after the first with ``?quiet``), and a farewell on shutdown."""
    router = trio_sse.Router()

    @router.route("/", methods=None)
    async def index(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response("ok")

    @router.route("/header")
    async def header(request: trio_sse.Request) -> trio_sse.Response:
        return trio_sse.Response(ascii(request.headers.get("x-name")))

    @router.route("/events")
    async def stream(request: trio_sse.Request) -> trio_sse.BaseResponse:
        quiet = request.query_param("quiet") is not None

        async def producer(out: trio_sse.EventStream) -> None:
            n = 0
            while True:
                await out.send(trio_sse.ServerSentEvent("tick", id=str(n)))
                if events is not None:
                    events.append((request.target, trio.current_time()))
                if quiet:
                    await trio.sleep_forever()
                await trio.sleep(2)
                n += 1

        return trio_sse.EventStreamResponse(producer, farewell=FAREWELL)

    return router


async def nothing_left(
    server: trio_sse.Server, nursery: trio.Nursery, before: frozenset[trio.lowlevel.Task]
) -> None:
    """Assert that every connection has ended and left no task and no count behind."""
    await trio.testing.wait_all_tasks_blocked()
    stats = server.statistics()
    assert (
        stats.connections_open,
        stats.event_streams_open,
        stats.tickers_active,
        stats.websockets_open,
    ) == (0, 0, 0, 0), stats
    assert len(nursery.child_tasks) == 0, [where(t) for t in nursery.child_tasks]
    extra = [where(t) for t in all_tasks() if t not in before and t is not nursery.parent_task]
    assert extra == []


@asynccontextmanager
async def connections(
    server: trio_sse.Server,
) -> AsyncIterator[tuple[trio.Nursery, frozenset[trio.lowlevel.Task]]]:
    """A nursery to run connections in, and the task tree before it (the baseline)."""
    before = frozenset(all_tasks())
    async with trio.open_nursery() as nursery:
        yield nursery, before


def start_serving(
    nursery: trio.Nursery, server: trio_sse.Server, stream: trio.abc.Stream
) -> trio.Event:
    """Serve *stream* in *nursery*; the event is set when the connection task has ended."""
    done = trio.Event()

    async def serve() -> None:
        try:
            await server.serve_stream(stream)
        finally:
            done.set()

    nursery.start_soon(serve)
    return done


class RecordingStream(trio.abc.HalfCloseableStream):
    """Delegates to *stream* and records when the server closed it."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.closed_at: float | None = None

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        assert isinstance(self.stream, trio.abc.HalfCloseableStream)
        await self.stream.send_eof()

    async def aclose(self) -> None:
        if self.closed_at is None:
            self.closed_at = trio.current_time()
        await self.stream.aclose()


class VanishingStream(trio.abc.HalfCloseableStream):
    """The server's end of a peer that vanishes without FIN or RST (a half-open TCP
    connection: the laptop that lost its Wi-Fi).

    It delivers *request* and records what the server writes. After :meth:`vanish`,
    ``send_all`` blocks forever (the socket buffer is full and nobody ACKs), and
    ``receive_some`` never returns, before or after: no byte, no EOF, no error.
    """

    def __init__(self, request: bytes) -> None:
        self._inbox = request
        self.received = bytearray()  # what the server wrote before the peer vanished
        self.gone = False
        self.blocked_sends = 0
        self.closed_at: float | None = None

    def vanish(self) -> None:
        self.gone = True

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self.closed_at is not None:
            raise trio.ClosedResourceError
        await trio.lowlevel.checkpoint()
        if self._inbox and not self.gone:
            size = len(self._inbox) if max_bytes is None else max_bytes
            data, self._inbox = self._inbox[:size], self._inbox[size:]
            return data
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed_at is not None:
            raise trio.ClosedResourceError
        if self.gone:
            self.blocked_sends += 1
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        self.received += data

    async def wait_send_all_might_not_block(self) -> None:
        if self.gone:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:  # a FIN is queued behind the unsent data
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        if self.closed_at is None:
            self.closed_at = trio.current_time()
        await trio.lowlevel.checkpoint()


class QueueListener(trio.abc.Listener[trio.abc.Stream]):
    """A listener that accepts the server-side streams handed to :meth:`connect`."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[trio.abc.Stream](0)

    async def connect(self, server_end: trio.abc.Stream) -> None:
        await self._send.send(server_end)

    async def accept(self) -> trio.abc.Stream:
        return await self._receive.receive()

    async def aclose(self) -> None:
        await self._receive.aclose()
        await trio.lowlevel.checkpoint()


async def exchange(server: trio_sse.Server, data: bytes) -> tuple[bytes, float]:
    """Send *data* on a new connection; return everything received until EOF (date
    masked) and the virtual time at which the server closed the connection."""
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, recorded)
        await client.send_all(data)
        output = await read_until_eof(client)
        await done.wait()
        await nothing_left(server, nursery, before)
    assert recorded.closed_at is not None
    return masked(output), recorded.closed_at


# -- malformed requests: exact answers --------------------------------------------------


# test_http.py::test_malformed_requests_get_400_and_server_keeps_serving sends some of
# these too, and checks the status line and that the server keeps serving; here: the exact
# response, when the connection closes, and that no task is left.
@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"garbage\r\n\r\n", id="request-line-one-word"),
        pytest.param(b"GET/ HTTP/1.1\r\nHost: x\r\n\r\n", id="request-line-no-spaces"),
        pytest.param(b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", id="request-line-4-parts"),
        pytest.param(b"GET / HTTP/1.1\r\nHost x\r\n\r\n", id="header-without-colon"),
        pytest.param(b"GET / HTTP/1.1\r\n: v\r\nHost: x\r\n\r\n", id="header-empty-name"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", id="cl-not-digits"
        ),
        pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", id="cl-neg"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            id="cl-conflicting-fields",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
            id="cl-conflicting-list",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
            id="chunk-size-not-hex",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n",
            id="chunk-size-negative",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n",
            id="chunk-data-without-crlf",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"f" * 40
            + b"\r\n",
            id="chunk-size-40-hex-digits",
        ),
        pytest.param(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", id="non-ascii-target"),
        pytest.param(b"G\xc3\x89T / HTTP/1.1\r\nHost: x\r\n\r\n", id="non-ascii-method"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-N\xc3\xa9: v\r\n\r\n", id="non-ascii-name"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-N: a\x00b\r\n\r\n", id="nul-in-value"),
    ],
)
async def test_malformed_request_gets_exact_400_and_leaves_nothing(
    autojump_clock: trio.testing.MockClock, request_bytes: bytes
) -> None:
    server = trio_sse.Server(hostile_app())
    start = trio.current_time()
    output, closed_at = await exchange(server, request_bytes)
    assert output == BAD_REQUEST
    # The answer is sent at once; the server then drains what the client still sends for
    # DRAIN_TIMEOUT (this client sends nothing more, and does not close), then closes.
    assert closed_at - start == DRAIN_TIMEOUT
    stats = server.statistics()
    assert stats.responses_by_status == {400: 1}
    assert stats.handler_errors == 0


@pytest.mark.parametrize("pieces", [1, 100], ids=["one-write", "1-KiB-writes"])
async def test_100_kib_header_gets_exact_431(
    autojump_clock: trio.testing.MockClock, pieces: int
) -> None:
    """A 100 KiB header field against the default 16 KiB limit: in one write (the complete
    head is measured) or trickled in 1 KiB writes (h11 stops buffering at the limit)."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\n\r\n"
    server = trio_sse.Server(hostile_app())
    assert server.config.max_header_bytes == 16 * 1024
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, recorded)
        size = -(-len(head) // pieces)
        try:
            for offset in range(0, len(head), size):
                await client.send_all(head[offset : offset + size])
                await trio.testing.wait_all_tasks_blocked()
        except trio.BrokenResourceError:  # pragma: no cover - the server closed first
            pass
        output = masked(await read_until_eof(client))
        await done.wait()
        await nothing_left(server, nursery, before)
    assert output == TOO_LARGE_HEAD
    assert server.statistics().responses_by_status == {431: 1}


async def test_content_length_and_chunked_together_is_rejected_and_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """RFC 9112 §6.1: both headers may be a smuggling attempt; the server may reject the
    request and must close the connection. The smuggled request behind it is never read."""
    server = trio_sse.Server(hostile_app())
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    start = trio.current_time()
    output, closed_at = await exchange(server, request + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert output == BAD_REQUEST
    assert closed_at - start == DRAIN_TIMEOUT


async def test_http_version_2_in_http1_syntax_is_505(
    autojump_clock: trio.testing.MockClock,
) -> None:
    server = trio_sse.Server(hostile_app())
    start = trio.current_time()
    output, closed_at = await exchange(server, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
    assert output == error_response(505, b"HTTP Version Not Supported")
    assert closed_at - start == DRAIN_TIMEOUT


async def test_non_ascii_header_value_reaches_the_handler_as_latin_1(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """h11 accepts obs-text (bytes 0x80-0xFF) in field values (RFC 9110 §5.5: "historically
    allowed"); trio-sse decodes them as Latin-1, losslessly, and serves the request. (Non-
    ASCII bytes in the method, the target or a field name are 400: see the table above.)"""
    server = trio_sse.Server(hostile_app())
    request = (
        b"GET /header HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\xff\r\nConnection: close\r\n\r\n"
    )
    start = trio.current_time()
    output, closed_at = await exchange(server, request)
    # the handler saw the UTF-8 bytes of "café" and 0xFF as Latin-1 characters
    assert output == ok_response(b"'caf\\xc3\\xa9\\xff'", close=True)
    assert closed_at == start
    assert "caf\xc3\xa9\xff".encode("latin-1") == b"caf\xc3\xa9\xff"


async def test_pipelined_garbage_after_a_valid_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The valid request is answered 200, the garbage behind it 400, then the connection
    closes (after the drain)."""
    server = trio_sse.Server(hostile_app())
    start = trio.current_time()
    output, closed_at = await exchange(
        server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\ngarbage\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert output == ok_response(b"ok") + BAD_REQUEST
    assert closed_at - start == DRAIN_TIMEOUT
    assert server.statistics().responses_by_status == {200: 1, 400: 1}


# -- slow and stalled clients -------------------------------------------------------------


async def test_slowloris_gets_408_at_exactly_the_head_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One byte a second of a head that would take 60 s: the server answers 408 at exactly
    ``request_head_timeout`` after the connection opened, whatever keeps trickling."""
    config = trio_sse.Config(request_head_timeout=10)
    server = trio_sse.Server(hostile_app(), config=config)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 60
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    sent: list[float] = []
    trickled = trio.Event()

    async def trickle() -> None:
        await trio.sleep(0.5)  # bytes at t = 0.5, 1.5, ...: never at the same time as a timeout
        try:
            for i in range(len(head)):
                await client.send_all(head[i : i + 1])
                sent.append(trio.current_time())
                await trio.sleep(1)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        trickled.set()

    start = trio.current_time()
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, recorded)
        nursery.start_soon(trickle)
        output = b""
        while not output.endswith(b"Request Timeout\n"):
            output += await client.receive_some(65536)
        answered = trio.current_time()
        assert await client.receive_some(65536) == b""  # then EOF (the server's send_eof)
        await done.wait()
        await trickled.wait()
        await client.aclose()
        await nothing_left(server, nursery, before)
    assert masked(output) == TIMEOUT
    assert answered - start == 10
    # bytes kept coming: the drain read the one at t = 10.5, then closed at t = 11, so the
    # byte due at t = 11.5 found the connection closed
    assert recorded.closed_at is not None
    assert recorded.closed_at - start == 10 + DRAIN_TIMEOUT
    assert sent == [n + 0.5 for n in range(11)]
    assert server.statistics().responses_by_status == {408: 1}


async def test_client_that_never_reads_is_dropped_and_others_are_unaffected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A client that stops reading its stream is dropped ``send_timeout`` after the write
    that blocked; meanwhile another stream gets its events on schedule and plain requests
    are answered at once. (``test_sse_stream.py`` has the same drop with a firehose.)"""
    events: list[tuple[str, float]] = []
    config = trio_sse.Config(send_timeout=4)
    server = trio_sse.Server(hostile_app(events), config=config)
    stalled_client, stalled_server = trio.testing.lockstep_stream_pair()
    stalled = RecordingStream(stalled_server)
    start = trio.current_time()
    async with connections(server) as (nursery, before):
        nursery.start_soon(server.serve_stream, stalled)
        await stalled_client.send_all(SSE_REQUEST.replace(b"/events", b"/events?stalled"))
        head = await stalled_client.receive_some(65536)
        assert masked(head) == SSE_HEAD
        first = await stalled_client.receive_some(65536)
        assert first == FIRST_CHUNK
        # ... and stops reading: the write at t = 2 blocks, the drop follows at 2 + 4.

        reader = await trio_sse.testing.open_memory_client(server, nursery)
        await reader.send_request("GET", "/events", headers=[("Accept", "text/event-stream")])
        assert (await reader.receive_head()).status == 200
        arrivals: list[tuple[str, float]] = []
        for _ in range(5):
            (event,) = await reader.receive_events(1)
            arrivals.append((event.last_event_id, trio.current_time() - start))
        assert arrivals == [("0", 0), ("1", 2), ("2", 4), ("3", 6), ("4", 8)]
        # plain requests on a third connection are answered without delay meanwhile
        other = await trio_sse.testing.open_memory_client(server, nursery)
        t0 = trio.current_time()
        assert (await other.request("GET", "/")).body == b"ok"
        assert trio.current_time() == t0

        assert stalled.closed_at is not None
        assert stalled.closed_at - start == 2 + 4
        stats = server.statistics()
        assert stats.slow_clients_dropped == 1
        assert (stats.connections_open, stats.event_streams_open, stats.tickers_active) == (
            2,
            1,
            1,
        )
        await reader.aclose()
        await other.aclose()
        await stalled_client.aclose()
        await nothing_left(server, nursery, before)
    # the stalled stream's producer ran once: its second send never completed
    assert [t for target, t in events if target == "/events?stalled"] == [start]


@pytest.mark.parametrize("quiet", [False, True], ids=["busy", "quiet"])
async def test_vanished_peer_is_reaped_by_heartbeat_and_send_timeout(
    autojump_clock: trio.testing.MockClock, quiet: bool
) -> None:
    """A peer vanishes (no FIN, no RST) right after its first event. The next write (an
    event at t = 2 with the busy producer; the idle heartbeat at t = 15 with the quiet one)
    blocks, and ``send_timeout`` later the connection is closed."""
    config = trio_sse.Config(heartbeat_interval=15, send_timeout=10)
    server = trio_sse.Server(hostile_app(), config=config)
    target = b"/events?quiet" if quiet else b"/events"
    peer = VanishingStream(SSE_REQUEST.replace(b"/events", target))
    start = trio.current_time()
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, peer)
        await trio.testing.wait_all_tasks_blocked()
        assert masked(bytes(peer.received)) == SSE_HEAD + FIRST_CHUNK
        peer.vanish()
        await done.wait()
        await nothing_left(server, nursery, before)
    blocked_write_at = 15 if quiet else 2
    assert peer.closed_at is not None
    assert peer.closed_at - start == blocked_write_at + 10
    assert peer.blocked_sends == 1
    stats = server.statistics()
    assert (stats.slow_clients_dropped, stats.stream_disconnects, stats.handler_errors) == (
        1,
        1,
        0,
    )


async def test_vanished_peer_mid_head_is_reaped_after_head_and_send_timeouts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A peer vanishes half-way through its request head: the 408 cannot be written
    either, so the connection ends ``send_timeout`` after the head timeout."""
    config = trio_sse.Config(request_head_timeout=10, send_timeout=7)
    server = trio_sse.Server(hostile_app(), config=config)
    peer = VanishingStream(b"GET / HTTP/1.1\r\nHo")
    start = trio.current_time()
    async with connections(server) as (nursery, before):
        done = start_serving(nursery, server, peer)
        await trio.testing.wait_all_tasks_blocked()
        peer.vanish()
        await done.wait()
        await nothing_left(server, nursery, before)
    assert peer.closed_at is not None
    assert peer.closed_at - start == 10 + 7
    assert peer.received == b""
    assert server.statistics().slow_clients_dropped == 1


# -- shutdown -----------------------------------------------------------------------------


async def test_shutdown_while_clients_stall_ends_within_the_grace_period(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Shutdown with: a stream reader that stopped reading, a vanished stream peer, a
    half-sent request, an idle keep-alive connection and a healthy stream reader.

    The healthy reader gets the farewell and the idle connection is closed at once; the
    three stalled ones are cancelled at exactly the end of the grace period, and
    ``serve_listeners`` returns then."""
    grace = 3
    config = trio_sse.Config(shutdown_grace_period=grace, send_timeout=10, request_head_timeout=10)
    server = trio_sse.Server(hostile_app(), config=config)
    listener = QueueListener()
    sse_headers = [("Accept", "text/event-stream")]
    before = frozenset(all_tasks())
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve_listeners, [listener])

        stalled_client, stalled_end = trio.testing.lockstep_stream_pair()
        stalled = RecordingStream(stalled_end)
        await listener.connect(stalled)
        await stalled_client.send_all(SSE_REQUEST.replace(b"/events", b"/events?quiet"))
        assert masked(await stalled_client.receive_some(65536)) == SSE_HEAD
        assert await stalled_client.receive_some(65536) == FIRST_CHUNK

        vanished = VanishingStream(SSE_REQUEST.replace(b"/events", b"/events?quiet"))
        await listener.connect(vanished)

        half_client, half_end = trio.testing.memory_stream_pair()
        half = RecordingStream(half_end)
        await listener.connect(half)
        await half_client.send_all(b"GET / HTTP/1.1\r\nHo")

        idle_client, idle_end = trio.testing.memory_stream_pair()
        idle = RecordingStream(idle_end)
        await listener.connect(idle)
        idle_http = TestClient(idle_client)
        assert (await idle_http.request("GET", "/")).body == b"ok"

        healthy_client, healthy_end = trio.testing.memory_stream_pair()
        healthy = RecordingStream(healthy_end)
        await listener.connect(healthy)
        healthy_http = TestClient(healthy_client)
        await healthy_http.send_request("GET", "/events?quiet", headers=sse_headers)
        assert (await healthy_http.receive_head()).status == 200
        assert [e.data for e in await healthy_http.receive_events(1)] == ["tick"]

        await trio.testing.wait_all_tasks_blocked()
        vanished.vanish()
        stats = server.statistics()
        assert (stats.connections_open, stats.event_streams_open) == (5, 3)
        start = trio.current_time()
        nursery.cancel_scope.cancel()
    assert trio.current_time() - start == grace
    watched: list[tuple[str, RecordingStream | VanishingStream]] = [
        ("stalled reader", stalled),
        ("vanished peer", vanished),
        ("half-sent request", half),
        ("idle keep-alive", idle),
        ("healthy reader", healthy),
    ]
    closed = {
        name: None if stream.closed_at is None else stream.closed_at - start
        for name, stream in watched
    }
    assert closed == {
        "stalled reader": grace,
        "vanished peer": grace,
        "half-sent request": grace,
        "idle keep-alive": 0,
        "healthy reader": 0,
    }
    assert await healthy_http.receive_body() == FAREWELL.encode()
    assert vanished.blocked_sends == 1  # the farewell
    stats = server.statistics()
    assert (
        stats.connections_open,
        stats.event_streams_open,
        stats.tickers_active,
        stats.handler_errors,
    ) == (0, 0, 0, 0)
    await trio.testing.wait_all_tasks_blocked()
    assert [where(t) for t in all_tasks() if t not in before] == []
    for stream in (stalled_client, half_client, idle_client, healthy_client):
        await stream.aclose()


# -- a WebSocket client that leaves during the handshake ----------------------------------

WS_HANDSHAKE: Final = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


async def test_websocket_peer_gone_before_the_101_is_not_an_error(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    router = trio_sse.Router()

    @router.websocket("/ws")
    async def ws(request: trio_sse.Request, conn: object) -> None:
        await trio.sleep_forever()

    server = trio_sse.Server(router)
    client, server_end = trio.testing.memory_stream_pair()
    recorded = RecordingStream(server_end)
    start = trio.current_time()
    with caplog.at_level(logging.ERROR, logger="trio_sse"):
        async with connections(server) as (nursery, before):
            done = start_serving(nursery, server, recorded)
            await client.send_all(WS_HANDSHAKE)
            await client.aclose()  # gone before the server answers
            await done.wait()
            await nothing_left(server, nursery, before)
    assert recorded.closed_at == start
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
