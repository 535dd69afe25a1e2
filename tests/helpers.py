"""Helpers shared by the test tiers (``tests/README.md`` describes the tiers).

Import them with ``from ..helpers import ...``; ``conftest.py`` keeps only fixtures and
pytest's configuration. The sections:

* memory streams: a server and an h11 client over ``trio.testing`` streams;
* a small local app, :func:`ticker_app`, for tests where the *server* is under test (the
  demo is tested on its own, in the ``test_demo_*`` files and the CLI and browser tests);
* :class:`Tracker`: events for "a producer or a WebSocket handler started / ended", which
  loopback tests await instead of polling ``server.statistics()``;
* :func:`running_server`: the one way a test runs a server in the background;
* Trio's task tree, for "nothing was left behind" checks;
* hostile peers over memory streams (exact bytes, recording and vanishing streams);
* WebSocket clients: trio-websocket and wsproto over memory streams, the ``websockets``
  library over loopback;
* :class:`WriteSpy`, which observes the server's raw socket writes.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Final, ParamSpec, TypeVar, cast

import trio
import trio.testing
import trio_websocket
import wsproto
import wsproto.events
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

import trio_sse
import trio_sse.metrics
from trio_sse.testing import TestClient, open_memory_client

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from trio_websocket import WebSocketConnection

    from trio_sse._timer import TimerService

P = ParamSpec("P")
T = TypeVar("T")

SSE: Final = [("Accept", "text/event-stream")]


# -- memory streams ----------------------------------------------------------------------


async def start_client(
    nursery: trio.Nursery, app: trio_sse.App, config: trio_sse.Config | None = None
) -> tuple[trio_sse.Server, TestClient]:
    server = trio_sse.Server(app, config=config)
    client = await open_memory_client(server, nursery)
    return server, client


def raw_pair(nursery: trio.Nursery, server: trio_sse.Server) -> trio.abc.HalfCloseableStream:
    """A raw client stream to *server* (for sending bytes h11 would refuse to send)."""
    client, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    return client


async def read_until_eof(stream: trio.abc.ReceiveStream) -> bytes:
    chunks: list[bytes] = []
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(bytes(data))


@asynccontextmanager
async def memory_client(server: trio_sse.Server) -> AsyncIterator[TestClient]:
    """A client over memory streams; closed (and its server task finished) on exit."""
    async with trio.open_nursery() as nursery:
        client = await open_memory_client(server, nursery)
        try:
            yield client
        finally:
            await client.aclose()


async def open_event_stream(client: TestClient, last_event_id: str | None = None) -> None:
    """Request ``/events`` as an event stream; return once the head is read and the
    handler has subscribed (every task blocked)."""
    headers = list(SSE)
    if last_event_id is not None:
        headers.append(("Last-Event-ID", last_event_id))
    await client.send_request("GET", "/events", headers=headers)
    head = await client.receive_head()
    assert head.status == 200
    assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
    await trio.testing.wait_all_tasks_blocked()  # the relay has subscribed


# -- a small local app -------------------------------------------------------------------

PROMETHEUS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def resume_after(last_event_id: str | None) -> int:
    """The numeric id to continue after (0 when absent or not a number)."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        return int(last_event_id)
    return 0


def ticker_app(interval: float = 2.0) -> trio_sse.Router:
    """The seed's behaviour, written here so that server tests do not depend on the demo.

    * ``/`` (any method) answers ``ok``, or, to a client that accepts an event stream,
      streams ``event: message`` / ``data: hello`` / ``id: N`` every *interval* seconds on
      the clock (the first one interval after the stream opened; ``trio_sse.lowlevel.
      sleep_until``, so the producers park on the server's shared timer), ``N`` continuing
      after a numeric ``Last-Event-ID``;
    * ``/metrics`` renders the server's statistics in Prometheus' text format;
    * ``/ws`` (WebSocket) echoes every message and sends the same ticks as JSON text,
      ``{"event": "message", "data": "hello", "id": N}``, ``N`` continuing after the
      ``last_event_id`` query parameter.
    """
    router = trio_sse.Router()

    async def ticker(stream: trio_sse.EventStream) -> None:
        n = resume_after(stream.last_event_id)
        start = stream.opened_at
        tick = 0
        while True:
            tick += 1
            await trio_sse.lowlevel.sleep_until(start + tick * interval)
            n += 1
            await stream.send(trio_sse.ServerSentEvent("hello", event="message", id=str(n)))

    @router.route("/", methods=None)
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return trio_sse.EventStreamResponse(ticker)
        return trio_sse.Response("ok")

    @router.route("/metrics")
    async def metrics(request: trio_sse.Request) -> trio_sse.BaseResponse:
        text = trio_sse.metrics.render_prometheus(trio_sse.current_server().statistics())
        return trio_sse.Response(text, content_type=PROMETHEUS_CONTENT_TYPE)

    @router.websocket("/ws")
    async def ws(request: trio_sse.Request, conn: WebSocketConnection) -> None:
        n = resume_after(request.query_param("last_event_id"))
        start = trio.current_time()

        async def tick() -> None:
            nonlocal n
            tick = 0
            while True:
                tick += 1
                await trio_sse.lowlevel.sleep_until(start + tick * interval)
                n += 1
                await conn.send_message(json.dumps({"event": "message", "data": "hello", "id": n}))

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(tick)
                while True:
                    await conn.send_message(await conn.get_message())
        except trio_websocket.ConnectionClosed:
            pass

    return router


class Tracker:
    """Counts an app's event-stream producers and WebSocket handlers as they start and end.

    ``tracker.wrap(app)`` is *app* with each producer and handler it returns watched. A
    loopback test awaits :meth:`wait_started` or :meth:`wait_all_ended` (events) instead of
    polling ``server.statistics()``, which cannot be awaited.
    """

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0
        self._changed = trio.Event()

    def wrap(self, app: trio_sse.App) -> trio_sse.App:
        async def tracked(request: trio_sse.Request) -> trio_sse.BaseResponse:
            response = await app(request)
            # A copy: a router hands out the same WebSocketResponse for every upgrade.
            if isinstance(response, trio_sse.EventStreamResponse):
                response = copy.copy(response)
                response.producer = self.watch(response.producer)
            elif isinstance(response, trio_sse.WebSocketResponse):
                response = copy.copy(response)
                response.handler = self.watch(response.handler)
            return response

        return tracked

    def watch(self, fn: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
        """*fn*, counted while it runs."""

        @functools.wraps(fn)
        async def watched(*args: P.args, **kwargs: P.kwargs) -> None:
            with self._running():
                await fn(*args, **kwargs)

        return watched

    @contextmanager
    def _running(self) -> Iterator[None]:
        self.started += 1
        self._notify()
        try:
            yield
        finally:
            self.ended += 1
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_started(self, count: int = 1) -> None:
        """Until *count* producers or handlers have started in all."""
        while self.started < count:
            await self._changed.wait()

    async def wait_all_ended(self) -> None:
        """Until every producer and handler that started has ended, and the connections
        they ran in have finished.

        Once its producer or handler has ended because the peer left, what is left of a
        connection is closing it, with no I/O to wait for: scheduling rounds only, so
        waiting until every task is blocked is enough.
        """
        while self.ended < self.started:
            await self._changed.wait()
        await trio.testing.wait_all_tasks_blocked()


# -- running a server --------------------------------------------------------------------


@asynccontextmanager
async def running_server(
    app: trio_sse.App,
    config: trio_sse.Config | None = None,
    *,
    listener: trio.abc.Listener[trio.abc.Stream] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[trio_sse.Server]:
    """A server running in the background, shut down (cancelled) on exit.

    It serves *listener* (e.g. a :class:`trio_sse.testing.MemoryListener`) with
    ``serve_listeners``, or without one a TCP socket on ``127.0.0.1``, port 0
    (:attr:`Server.port <trio_sse.Server.port>`), as ``trio_sse.serve`` does; over TLS
    with *ssl_context*. Without *config*, the grace period is 1 s, so a test that leaves a
    stream open does not wait the default 5 s at the end.
    """
    if config is None:
        config = trio_sse.Config(shutdown_grace_period=1)
    async with trio.open_nursery() as nursery:
        server: trio_sse.Server
        if listener is None:
            serve = functools.partial(
                trio_sse.serve, app, "127.0.0.1", 0, config=config, ssl_context=ssl_context
            )
            server = await nursery.start(serve)
        else:
            server = trio_sse.Server(app, config=config, ssl_context=ssl_context)
            await nursery.start(server.serve_listeners, [listener])
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()


def check_running(timer: TimerService) -> None:
    """Assert that *timer* runs (a function: an ``assert`` would narrow the type for mypy)."""
    assert timer.running


# -- Trio's task tree --------------------------------------------------------------------


def all_tasks() -> list[trio.lowlevel.Task]:
    """Tasks alive in this ``trio.run``, from the root task down its nurseries."""
    root = trio.lowlevel.current_root_task()
    assert root is not None
    tasks = [root]
    for task in tasks:  # grows while it is walked: breadth first
        tasks.extend(child for nursery in task.child_nurseries for child in nursery.child_tasks)
    return tasks


def where(task: trio.lowlevel.Task) -> str:
    """A task's name and the chain of coroutines it is suspended in (for failure messages)."""
    frames: list[str] = []
    coro: object = task.coro
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        frames.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return f"{task.name} [{' > '.join(frames)}]"


# -- hostile peers, over memory streams ----------------------------------------------------

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


# -- WebSocket clients ---------------------------------------------------------------------

KEY: Final = "dGhlIHNhbXBsZSBub25jZQ=="
UPGRADE: Final = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]


async def open_ws(
    nursery: trio.Nursery,
    server: trio_sse.Server,
    path: str = "/ws",
    *,
    subprotocols: list[str] | None = None,
) -> tuple[WebSocketConnection, trio.abc.Stream]:
    """A trio-websocket client over a memory stream; also returns the raw client stream."""
    client, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    # wrap_client_stream is annotated for sockets but only needs a trio.abc.Stream.
    ws = await trio_websocket.wrap_client_stream(
        nursery, cast("trio.SocketStream", client), "test", path, subprotocols=subprotocols
    )
    return ws, client


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (short payloads only)."""
    assert len(payload) < 126
    mask = b"\x37\xfa\x21\x3d"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


async def raw_handshake(
    stream: trio.abc.Stream, path: str = "/ws", *, then: bytes = b""
) -> tuple[wsproto.WSConnection, list[wsproto.events.Event]]:
    """Send a wsproto-built handshake (plus *then* in the same write); read the 101."""
    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    await stream.send_all(client.send(wsproto.events.Request(host="test", target=path)) + then)
    events: list[wsproto.events.Event] = []
    while not any(isinstance(e, wsproto.events.AcceptConnection) for e in events):
        data = await stream.receive_some(65536)
        assert data, "EOF before the handshake answer"
        client.receive_data(bytes(data))
        events.extend(client.events())
    return client, events


async def ws_events_until_eof(
    client: wsproto.WSConnection, stream: trio.abc.Stream
) -> list[tuple[float, wsproto.events.Event]]:
    """Read without ever answering (no pongs, no close reply) until the server hangs up."""
    seen: list[tuple[float, wsproto.events.Event]] = []
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return seen
        client.receive_data(bytes(data))
        seen.extend((trio.current_time(), e) for e in client.events())


async def echo(request: trio_sse.Request, ws: WebSocketConnection) -> None:
    while True:
        await ws.send_message(await ws.get_message())


def echo_router(**settings: float | int | None) -> trio_sse.Router:
    router = trio_sse.Router()
    router.add_websocket_route("/ws", echo, **settings)  # type: ignore[arg-type]
    return router


async def close_reason(ws: WebSocketConnection) -> trio_websocket.CloseReason:
    """Read *ws* until it closes; its close code and reason."""
    while True:
        try:
            await ws.get_message()
        except trio_websocket.ConnectionClosed:
            break
    assert ws.closed is not None
    return ws.closed


async def close_code(ws: WebSocketConnection) -> int:
    """Read until the connection closes; return the close code."""
    while True:
        try:
            await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            reason = exc.reason
            break
    assert reason is not None
    return reason.code


async def get_json(ws: WebSocketConnection) -> dict[str, object]:
    message = await ws.get_message()
    assert isinstance(message, str), message
    value = json.loads(message)
    assert isinstance(value, dict)
    return value


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking client script in a worker thread, with a Trio-side bound."""
    with trio.fail_after(30):
        return await trio.to_thread.run_sync(fn, abandon_on_cancel=True)


def lib_connect(
    port: int, path: str = "/ws", *, compression: str | None = "deflate"
) -> ClientConnection:
    """The ``websockets`` client: no proxy from the environment, no pings of its own."""
    return ws_connect(
        f"ws://127.0.0.1:{port}{path}",
        proxy=None,
        open_timeout=5,
        close_timeout=5,
        ping_interval=None,
        compression=compression,
    )


def recv_json_ticks(ws: ClientConnection, count: int) -> list[dict[str, object]]:
    ticks: list[dict[str, object]] = []
    while len(ticks) < count:
        message = ws.recv(timeout=5)
        assert isinstance(message, str)
        value = json.loads(message)
        if value.get("event") == "message":
            ticks.append(value)
    return ticks


# -- raw socket writes -----------------------------------------------------------------------


class WriteSpy:
    """Counts the server's ``os.write`` calls (and partial ones) and its
    ``wait_writable`` waits, delegating to the real functions (the ``spy`` fixture puts it
    in place). :attr:`blocked` is set at the first wait: a write found the socket full."""

    def __init__(self) -> None:
        self.writes = 0
        self.partial = 0
        self.would_block = 0
        self.waits = 0
        self.blocked = trio.Event()

    def write(self, fd: int, data: bytes | memoryview) -> int:
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            self.would_block += 1
            raise
        self.writes += 1
        if sent < len(data):
            self.partial += 1
        return sent

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)
