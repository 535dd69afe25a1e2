"""One HTTP/2 connection: the h2 reader loop, one task per request stream, the limits.

Theory of operation
-------------------
The connection's own task runs :meth:`HTTP2Connection.run`: it opens a nursery, reads the
socket (:meth:`Transport.read <trio_sse._transport.Transport.read>`) and feeds ``h2``,
whose events it dispatches synchronously:

* a request's headers open a :class:`~trio_sse._h2_stream.H2Stream` and start its task in
  the nursery, inside the stream's own cancel scope. The task waits for the body (bounded
  by ``max_body_bytes`` and ``request_body_timeout``), calls the application, and writes
  the response: a :class:`~trio_sse.Response` as HEADERS and DATA, a streamed body
  through the body driver (``_body.py``) with the stream as its
  :class:`~trio_sse._context.ResponseChannel`, so an event stream's producer is a child
  task of its stream's task. A :class:`~trio_sse.WebSocketResponse` gets ``501``
  (WebSocket over HTTP/2, RFC 8441, is not supported);
* ``RST_STREAM`` from the peer stops exactly that stream, at once; ``GOAWAY``, EOF or a
  failed write cancels the nursery, and with it every stream;
* ``WINDOW_UPDATE`` and ``SETTINGS`` wake the streams waiting for a window;
* silence: with no stream open, the connection closes after ``keepalive_timeout``; with
  streams open, it gets a ``PING`` after ``http2_ping_interval``, and a peer that does not
  acknowledge it within ``http2_ping_timeout`` is taken for gone (half-open).

Limits: ``SETTINGS_MAX_CONCURRENT_STREAMS`` (streams beyond it are refused with
``REFUSED_STREAM``), the header list size, and per-second budgets for the resets a client
sends or causes (rapid reset, MadeYouReset) and for PING and SETTINGS frames; a budget
exceeded, or any input h2 rejects, closes the connection with an error ``GOAWAY``,
logged at debug level only.

Shutdown: :meth:`HTTP2Connection.begin_shutdown` queues a ``GOAWAY`` naming the last
stream served and interrupts the streamed bodies, which write their farewell and end; the
connection ends with its last stream (the server's grace period bounds that).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import trio

from ._body import event_stream_body, run_body, streaming_body
from ._exceptions import StreamClosedError
from ._h2_stream import H2Link, H2Stream
from ._h2_wire import (
    Budget,
    FrameSizeGuard,
    PingTimer,
    ServerH2Connection,
    bytes_headers,
    response_head,
)
from ._headers import Headers
from ._http11 import HTTPError, log_access
from ._request import Request
from ._response import Response, StreamingResponse
from ._sse import EventStreamResponse
from ._websocket import UpgradeRequired, WebSocketResponse

if TYPE_CHECKING:
    from ._context import ServerContext
    from ._transport import Transport

__all__ = ["HTTP2Connection"]

logger = logging.getLogger("trio_sse")

_NO_WEBSOCKET: Final = Response(
    "WebSocket over HTTP/2 (RFC 8441) is not supported: connect with HTTP/1.1.\n", status=501
)
_INTERNAL_ERROR: Final = Response("Internal Server Error\n", status=500)
_CALM: Final = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


class HTTP2Connection:
    """Serve one HTTP/2 client connection. Internal: created by ``_protocol.py``.

    Args:
        context: The server's context.
        transport: The connection's bytes.
        client: The peer's address.
        received: Bytes already read (the client's connection preface, in cleartext).
    """

    __slots__ = (
        "_config",
        "_context",
        "_controls",
        "_counted",
        "_guard",
        "_idle",
        "_link",
        "_nursery",
        "_peer_left",
        "_pings",
        "_received",
        "_resets",
        "_scope",
        "_streams",
    )

    def __init__(
        self,
        context: ServerContext,
        transport: Transport,
        client: tuple[str, int] | None,
        received: bytes = b"",
    ) -> None:
        self._context = context
        config = self._config = context.config
        conn = ServerH2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: (
                    config.http2_max_concurrent_streams
                ),
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: config.max_header_bytes,
            },
        )
        self._scope = trio.CancelScope()  # the whole connection's
        self._link = H2Link(context, conn, transport, client, self._scope)
        self._streams: dict[int, H2Stream] = {}
        #: The ids of the streams counted against the limit: a stream counts until its
        #: task has ended, except that one the client reset leaves at once (RFC 9113
        #: §5.1.2), even while its task is still unwinding. One the *server* reset
        #: (MadeYouReset) counts on until its task ends.
        self._counted: set[int] = set()
        #: The scope of the reader's wait, whose deadline is the keep-alive timeout while
        #: no stream is open.
        self._idle: trio.CancelScope | None = None
        self._guard = FrameSizeGuard()
        self._peer_left = False
        self._nursery: trio.Nursery | None = None
        self._resets = Budget(config.http2_reset_budget)
        self._controls = Budget(config.http2_control_frame_budget)
        self._pings = PingTimer(config.http2_ping_interval, config.http2_ping_timeout)
        self._received = received
        context.counters.http2_connections_total += 1

    def begin_shutdown(self) -> None:
        """Queue a graceful GOAWAY and end the streamed bodies (sync; the server calls it)."""
        link = self._link
        if link.closing or link.broken:
            return
        link.queue_goaway()
        for stream in list(self._streams.values()):
            stream.begin_shutdown()
        if not self._streams:
            self._scope.cancel()  # idle: the GOAWAY goes out as the connection closes
        elif self._nursery is not None:
            self._nursery.start_soon(self._flush_quietly)  # the GOAWAY goes out now

    async def run(self) -> None:
        """Serve streams until the connection closes. Never raises ``Exception``."""
        link = self._link
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if await self._read_loop(nursery):
                        self._all_gone()  # each stream ends as if reset, and is counted so
                    else:
                        nursery.cancel_scope.cancel()
        except (trio.BrokenResourceError, trio.ClosedResourceError, StreamClosedError):
            pass
        except Exception:
            logger.exception("unexpected error on HTTP/2 connection from %s", link.peer)
        if link.closing and not link.broken:  # the graceful GOAWAY, if still queued
            with trio.move_on_after(self._config.send_timeout) as cleanup:
                cleanup.shield = True
                await self._flush_quietly()

    def _all_gone(self) -> None:
        for stream in list(self._streams.values()):
            if not stream.gone:
                stream.peer_gone()

    def _spend_reset(self) -> bool:
        """Count a reset the client caused (MadeYouReset, CVE-2025-8671); ``True`` over
        the reset budget, with ``GOAWAY(ENHANCE_YOUR_CALM)`` queued."""
        self._context.counters.http2_resets_sent += 1
        if self._resets.spend():
            self._link.conn.close_connection(_CALM)
            return True
        return False

    def _count_silent_resets(self, known: int) -> bool:
        """Spend the reset budget for each ``DATA`` frame (or ``HEADERS`` on a stream
        opened before this read, *known*) on a stream whose task has ended: h2 answers
        one on a reset stream with ``RST_STREAM`` and no event (one on a stream closed
        otherwise is a connection error). ``False`` over the budget."""
        streams = self._streams
        for ftype, sid in self._guard.stream_frames:
            if sid not in streams and (ftype == 0 or sid <= known) and self._spend_reset():
                return False
        return True

    async def _flush_quietly(self) -> None:
        try:
            await self._link.flush()
        except StreamClosedError:
            pass

    async def _read_loop(self, nursery: trio.Nursery) -> bool:
        """Read and dispatch until the connection ends; ``True`` if the peer left (EOF
        or its GOAWAY), ``False`` otherwise (an error, idle, shutdown)."""
        link = self._link
        conn = link.conn
        conn.initiate_connection()
        data = self._received
        self._received = b""
        keepalive = self._config.keepalive_timeout
        while True:
            if data:
                if not self._guard.check(data, conn.max_inbound_frame_size):
                    conn.close_connection(h2.errors.ErrorCodes.FRAME_SIZE_ERROR)
                    await self._fail("frame too large")
                    return False
                known = conn.highest_inbound_stream_id
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError as exc:  # h2 queued a GOAWAY
                    await self._fail(f"protocol error: {exc}")
                    return False
                if self._peer_left:
                    return True
                if not self._dispatch(events, nursery) or not self._count_silent_resets(known):
                    await self._fail("budget exceeded")
                    return False
            try:
                await link.flush()
            except StreamClosedError:
                return True  # the peer is gone (reset, closed) or too slow to read
            if self._peer_left:
                return True
            if link.closing and not self._streams:
                return False
            now = trio.current_time()
            idle = self._idle = trio.CancelScope(
                deadline=self._pings.deadline(now) if self._streams else now + keepalive
            )
            try:
                with idle:
                    data = await link.transport.read()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return True  # a TCP reset: the peer left, as at EOF
            finally:
                self._idle = None
            if idle.cancelled_caught:
                if not self._streams:
                    link.queue_goaway()  # idle for keepalive_timeout: close politely
                    return False
                data = b""
                if (ping := self._pings.expired(trio.current_time())) is None:
                    return await self._ping_timeout()
                conn.ping(ping)
                continue
            if not data:
                return True

    async def _ping_timeout(self) -> bool:
        """Our ``PING`` went unanswered: the peer is gone (``True``), GOAWAY written if
        it can be."""
        self._context.counters.http2_ping_timeouts += 1
        logger.debug("closing HTTP/2 connection from %s: PING timeout", self._link.peer)
        self._link.conn.close_connection(additional_data=b"PING timeout")
        await self._flush_quietly()
        return True

    async def _fail(self, why: str) -> None:
        """Write the error GOAWAY h2 queued and end the connection."""
        self._context.counters.http2_connection_errors += 1
        logger.debug("closing HTTP/2 connection from %s: %s", self._link.peer, why)
        await self._flush_quietly()

    def _dispatch(self, events: list[h2.events.Event], nursery: trio.Nursery) -> bool:
        """Act on h2's events; ``False`` when a budget is exceeded (GOAWAY queued)."""
        conn = self._link.conn
        streams = self._streams
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                if not self._open_stream(event, nursery):
                    return False
            elif isinstance(event, h2.events.DataReceived):
                sid = event.stream_id
                size = event.flow_controlled_length
                stream = streams.get(sid)
                if stream is not None:
                    stream.body_size += len(event.data)
                    if stream.body_size <= self._config.max_body_bytes:
                        stream.body.append(event.data)
                    else:
                        stream.request_ended()  # answered with 413
                # Our reading is bounded by max_body_bytes: reopen the windows at once
                # (h2 skips a stream that has closed meanwhile).
                conn.acknowledge_received_data(size, sid)
            elif isinstance(event, h2.events.StreamEnded):
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.request_ended()
            elif isinstance(event, h2.events.StreamReset):
                if event.remote_reset:
                    self._context.counters.http2_resets_received += 1
                    self._counted.discard(event.stream_id)
                    if self._resets.spend():
                        conn.close_connection(_CALM)
                        return False
                elif self._spend_reset():  # h2 reset it: a stream error of the client's
                    return False
                stream = streams.get(event.stream_id)
                if stream is not None and not stream.gone:
                    stream.peer_gone()
            elif isinstance(event, h2.events.WindowUpdated):
                if event.stream_id == 0:
                    for stream in streams.values():
                        stream.window_opened()
                elif (stream := streams.get(event.stream_id)) is not None:
                    stream.window_opened()
            elif isinstance(event, (h2.events.RemoteSettingsChanged, h2.events.PingReceived)):
                if self._controls.spend():
                    conn.close_connection(_CALM)
                    return False
                for stream in streams.values():
                    stream.window_opened()
            elif isinstance(event, h2.events.PingAckReceived):
                self._pings.acked(event.ping_data)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._peer_left = True  # the peer's GOAWAY: its streams will not be read
                return True
        return True

    def _open_stream(self, event: h2.events.RequestReceived, nursery: trio.Nursery) -> bool:
        """Start the stream's task, or refuse it; ``False`` when a budget is exceeded."""
        counters = self._context.counters
        counters.http2_streams_total += 1
        sid = event.stream_id
        complete = event.stream_ended is not None
        stream = H2Stream(self._link, sid, bytes_headers(event), complete=complete)
        if (
            self._link.shutting_down
            or len(self._counted) >= self._config.http2_max_concurrent_streams
        ):
            stream.reset(h2.errors.ErrorCodes.REFUSED_STREAM)
            return not self._spend_reset()  # refusals cost as much as resets
        self._streams[sid] = stream
        self._counted.add(sid)
        counters.http2_streams_open += 1
        nursery.start_soon(self._serve_stream, stream)
        return True

    # -- one stream's task -------------------------------------------------------------------

    async def _serve_stream(self, stream: H2Stream) -> None:
        try:
            with stream.scope:
                await self._respond(stream)
        except StreamClosedError:
            pass
        finally:
            self._context.counters.http2_streams_open -= 1
            del self._streams[stream.stream_id]
            self._counted.discard(stream.stream_id)
            if stream.faulted and self._spend_reset():
                self._context.counters.http2_connection_errors += 1
                logger.debug("closing HTTP/2 connection from %s: reset budget", self._link.peer)
                self._link.closing = True  # ``run`` writes the GOAWAY
                self._scope.cancel()
            if not self._streams:
                if self._link.closing:
                    self._scope.cancel()  # (``run`` writes what is queued)
                elif self._idle is not None:  # idle from now on: the keep-alive timeout
                    self._idle.deadline = trio.current_time() + self._config.keepalive_timeout
            if not stream.ended:  # cancelled, or a failure: the peer must not wait
                stream.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)
                with trio.CancelScope(shield=True):
                    await self._flush_quietly()

    async def _respond(self, stream: H2Stream) -> None:
        context = self._context
        try:
            request = await self._read_request(stream)
        except HTTPError as exc:
            await stream.send_response("GET", Response(exc.detail + "\n", status=exc.status))
            if stream.body_size > self._config.max_body_bytes or not stream.complete:
                # Answered before the whole request came: ask the client to stop sending
                # (RFC 9113 §8.1).
                stream.faulted = stream.reset(h2.errors.ErrorCodes.NO_ERROR)
                await self._link.flush()
            return
        t0 = time.perf_counter()
        response = await context.call_app(request)
        match response:
            case WebSocketResponse() | UpgradeRequired():  # (no Upgrade in HTTP/2)
                status = await stream.send_response(request.method, _NO_WEBSOCKET)
            case Response():
                status = await stream.send_response(request.method, response)
            case StreamingResponse() | EventStreamResponse():
                status = response.status
                context.counters.count_response(status)
                head_only = request.method == "HEAD"
                head = response_head(status, response.header_fields(), None)
                await stream.send_headers(head, end=head_only)
                del head  # (this frame lives as long as the stream)
                if not head_only:
                    if isinstance(response, StreamingResponse):
                        body = streaming_body(stream, response)
                    else:
                        body = event_stream_body(stream, request, response, self._config)
                    del response
                    await run_body(stream, body)
            case _:
                context.counters.handler_errors += 1
                logger.error("unsupported response type %s", type(response).__name__)
                status = await stream.send_response(request.method, _INTERNAL_ERROR)
        log_access(self._link.peer, request, status, stream.body_bytes, t0)

    async def _read_request(self, stream: H2Stream) -> Request:
        config = self._config
        self._context.counters.requests_total += 1
        method, target, fields = stream.request_head(config.max_header_bytes)
        if not stream.complete:
            with trio.move_on_after(config.request_body_timeout) as timer:
                await stream.wait_request()
            if timer.cancelled_caught:
                raise HTTPError(408, "request body timeout")
        if stream.body_size > config.max_body_bytes:
            raise HTTPError(413, "request body too large")
        body = b"".join(stream.body)
        stream.body = []
        return Request(
            method=method.decode("ascii", "replace"),
            target=target.decode("ascii", "replace"),
            headers=Headers.from_wire(fields),
            body=body,
            http_version="2",
            client=self._link.client,
        )
