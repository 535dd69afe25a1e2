"""An HTTP/2 test client over a memory stream, driven by h2's client-side connection.

A reader task feeds every received byte to h2 and records the events by stream; tests
wait for conditions with :meth:`H2TestClient.wait_for` (bounded by ``trio.fail_after`` on
the caller's clock: no real sleeps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.events
import h2.settings
import trio
import trio.testing
from h2.frame_buffer import FrameBuffer
from hyperframe.frame import DataFrame, GoAwayFrame, RstStreamFrame

import trio_sse

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import trio_websocket

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class H2TestClient:
    """One HTTP/2 connection to a server, as a client.

    Attributes:
        conn: The client-side h2 connection.
        headers: Response header blocks by stream id.
        data: Response bodies received so far, by stream id.
        ended: Streams the server ended (END_STREAM).
        resets: Error codes of the streams the server reset, by stream id.
        goaway: The server's GOAWAY, if any.
        eof: Whether the server closed the connection.
        pings: Times the server sent a PING (h2 queues the ACK; :meth:`mute` drops it).
        muted: Whether the client has stopped writing (:meth:`mute`).
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        auto_ack: bool = True,
        settings: dict[h2.settings.SettingCodes, int] | None = None,
    ) -> None:
        self.stream = stream
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.auto_ack = auto_ack
        self.headers: dict[int, dict[bytes, bytes]] = {}
        self.data: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self.resets: dict[int, int] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.eof = False
        self.pings = 0
        self.muted = False
        self._changed = trio.Event()
        self._send_lock = trio.StrictFIFOLock()
        # Frames are split here and fed to h2 one by one until the server's GOAWAY; after
        # it h2 refuses everything, so the streams' last frames are read here instead.
        self._frames = FrameBuffer(server=False)
        self._frames.max_frame_size = 1 << 24

    async def start(self, nursery: trio.Nursery) -> None:
        self.conn.initiate_connection()
        await self.flush()
        nursery.start_soon(self._read)

    async def flush(self, raw: bytes = b"") -> None:
        """Write what h2 has queued, then *raw* (bytes h2 would not send)."""
        async with self._send_lock:
            data = self.conn.data_to_send() + raw
            if data and not self.muted:
                try:
                    await self.stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

    def mute(self) -> None:
        """Stop writing anything, PING ACKs included (a peer whose uplink is gone)."""
        self.muted = True

    async def _read(self) -> None:
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self.eof = True
                self._changed.set()
                return
            self._frames.add_data(data)
            for frame in self._frames:
                if self.goaway is None:
                    for event in self.conn.receive_data(frame.serialize()):
                        self._record(event)
                elif isinstance(frame, DataFrame):
                    self.data.setdefault(frame.stream_id, bytearray()).extend(frame.data)
                    if "END_STREAM" in frame.flags:
                        self.ended.add(frame.stream_id)
                elif isinstance(frame, RstStreamFrame):
                    self.resets[frame.stream_id] = frame.error_code
                elif isinstance(frame, GoAwayFrame):
                    pass
            await self.flush()
            self._changed.set()
            self._changed = trio.Event()

    def _record(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            self.headers[event.stream_id] = {bytes(n): bytes(v) for n, v in event.headers}
        elif isinstance(event, h2.events.DataReceived):
            self.data.setdefault(event.stream_id, bytearray()).extend(event.data)
            if self.auto_ack and event.stream_id in self.conn.streams:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.ended.add(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.resets[event.stream_id] = int(event.error_code or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event
        elif isinstance(event, h2.events.PingReceived):
            self.pings += 1

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        while not condition():
            if self.eof:
                raise AssertionError("the server closed the connection")
            await self._changed.wait()

    async def wait_goaway(self) -> h2.events.ConnectionTerminated:
        """Read until the server's GOAWAY and then its close; return the GOAWAY."""
        await self.wait_for(lambda: self.goaway is not None)
        await self.wait_for(lambda: self.eof)
        assert self.goaway is not None
        return self.goaway

    async def request(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        end: bool = True,
        flush: bool = True,
    ) -> int:
        """Send a request (*end*: and end it); return its stream id."""
        sid = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()),
            (b":scheme", b"http"),
            (b":authority", b"test"),
            (b":path", path.encode()),
            *((n.encode(), v.encode()) for n, v in headers),
        ]
        self.conn.send_headers(sid, fields, end_stream=end and not body)
        if body:
            self.conn.send_data(sid, body, end_stream=end)
        if flush:
            await self.flush()
        return sid

    async def get(self, path: str = "/", **kwargs: object) -> tuple[dict[bytes, bytes], bytes]:
        """A complete request: (response headers, body)."""
        sid = await self.request(path, **kwargs)  # type: ignore[arg-type]
        await self.wait_for(lambda: sid in self.ended or sid in self.resets)
        return self.headers.get(sid, {}), bytes(self.data.get(sid, b""))

    async def open_streams(
        self, path: str = "/ticker", count: int = 1, *, events: int = 1, **kwargs: object
    ) -> list[int]:
        """Open *count* streams of *path* at once, then read until each has its response
        head and *events* events; return their ids."""
        ids = [await self.request(path, **kwargs) for _ in range(count)]  # type: ignore[arg-type]
        await self.wait_for(
            lambda: all(sid in self.headers and self.events_of(sid) >= events for sid in ids)
        )
        return ids

    async def open_stream(self, path: str = "/ticker", *, events: int = 1, **kwargs: object) -> int:
        """:meth:`open_streams` for one stream (*events* 0: until its response head)."""
        return (await self.open_streams(path, 1, events=events, **kwargs))[0]

    async def reset(self, sid: int) -> None:
        self.conn.reset_stream(sid)
        await self.flush()

    def events_of(self, sid: int) -> int:
        return bytes(self.data.get(sid, b"")).count(b"\n\n")


async def open_h2_client(
    nursery: trio.Nursery, server: trio_sse.Server, **kwargs: object
) -> H2TestClient:
    """Connect a new :class:`H2TestClient` to *server* over a memory stream (cleartext,
    prior knowledge)."""
    client_end, server_end = trio.testing.memory_stream_pair()
    nursery.start_soon(server.serve_stream, server_end)
    client = H2TestClient(client_end, **kwargs)  # type: ignore[arg-type]
    await client.start(nursery)
    return client


# -- the app the HTTP/2 tests serve ----------------------------------------------------------

SSE = [("accept", "text/event-stream")]


async def ticker(stream: trio_sse.EventStream) -> None:
    n = 0
    while True:
        n += 1
        await stream.send(trio_sse.ServerSentEvent(f"tick {n}", id=str(n)))
        await trio.sleep(1)


async def three(stream: trio_sse.EventStream) -> None:
    for n in range(1, 4):
        await trio.sleep(0.01)
        await stream.send(trio_sse.ServerSentEvent("hello", id=str(n)))


def h2_app() -> trio_sse.Router:
    router = trio_sse.Router()

    @router.route("/")
    async def index(request: trio_sse.Request) -> trio_sse.BaseResponse:
        if trio_sse.accepts_event_stream(request):
            return trio_sse.EventStreamResponse(three)
        return trio_sse.Response(f"ok {request.http_version}")

    @router.route("/ticker")
    async def ticks(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.EventStreamResponse(
            ticker, farewell=trio_sse.ServerSentEvent("bye", event="shutdown")
        )

    @router.route("/big")
    async def big(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(b"x" * 200_000, headers={"keep-alive": "timeout=5"})

    @router.route("/echo", methods=["POST"])
    async def echo(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.Response(request.body + b"|" + request.headers.get("host", "").encode())

    @router.route("/chunks")
    async def chunks(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.StreamingResponse([b"a", b"b", b"c"])

    async def never(request: trio_sse.Request, ws: trio_websocket.WebSocketConnection) -> None:
        raise AssertionError("never reached over HTTP/2")

    router.websocket("/ws")(never)

    @router.route("/ws-direct")
    async def ws_direct(request: trio_sse.Request) -> trio_sse.BaseResponse:
        return trio_sse.WebSocketResponse(never)

    return router


async def start(
    nursery: trio.Nursery, config: trio_sse.Config | None = None, **kwargs: object
) -> tuple[trio_sse.Server, H2TestClient]:
    server = trio_sse.Server(h2_app(), config=config)
    return server, await open_h2_client(nursery, server, **kwargs)
