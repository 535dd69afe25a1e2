"""The WebSocket driver: hand an h11-parsed handshake to trio-websocket and run the session.

The connection calls :func:`run_session` with a :class:`~trio_sse.WebSocketResponse`
whose handshake passed :func:`~trio_sse._websocket.handshake_refusal`; from then on the
connection belongs to trio-websocket. This driver talks to the connection only through
the :class:`~trio_sse._context.SessionHost` interface.

Theory of operation
-------------------
h11 parses every request, WebSocket handshakes included. When a handler (or a
:meth:`Router.websocket <trio_sse.Router.websocket>` route) answers a handshake with a
:class:`WebSocketResponse`, the connection first checks the handshake itself
(:func:`handshake_refusal`), so that anything trio-websocket and wsproto would refuse gets
a proper HTTP answer (``400`` or ``426``) through h11 instead of a hang. Then:

1. **Hand-off.** h11 has read the request and paused (``MIGHT_SWITCH_PROTOCOL``). The
   request head is serialised again by an ``h11.Connection(h11.CLIENT)``; a
   :class:`~trio_sse._prefixed_stream.PrefixedStream` replays it, then reads the socket.
   ``trio_websocket.wrap_server_stream`` reads the handshake from it as if nobody had
   before (trio-websocket has no API for a parsed request: its issue #1), and
   ``accept()`` writes the ``101``. h11's ``trailing_data`` (frames the client sent
   right behind its handshake) is replayed only after that, because wsproto's server
   forgets whatever arrives before its ``101``. That h11 connection is abandoned.
2. **Task tree.** Everything runs in a *session* nursery opened by the connection task,
   inside the connection's own (shielded, deadline-bound) cancel scope::

       connection task ── session nursery (body: waits for server shutdown)
                          ├── reader host ── readers nursery ── trio-websocket reader
                          ├── the application's handler(request, ws)
                          └── (optional) heartbeat: ping every N s

   The reader task is trio-websocket's; it ends when the peer closes or vanishes, or
   the close handshake completes. Its host then cancels the session: a client that
   disconnects cancels the handler (and whatever it started) at once, by structure.
3. **Closing.** A handler that returns closes with ``1000``; one that raises is logged
   and closes with ``1011``. A heartbeat without a pong in time closes with ``1011``.
   Server shutdown ends the session body's wait (``SessionHost.wait_shutdown``) and
   closes with ``1001``: the close frame queues behind any frame the handler is
   writing (trio-websocket serialises writes), so no frame is ever cut in half. Every
   close waits at most ``disconnect_timeout`` for the peer's answer, then the socket is
   closed anyway.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio
import trio_websocket

from ._prefixed_stream import PrefixedStream
from ._websocket import CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_NORMAL

if TYPE_CHECKING:
    from ._context import SessionHost
    from ._request import Request
    from ._stats import ServerStatistics
    from ._websocket import WebSocketOptions, WebSocketResponse

__all__ = ["run_session"]

logger = logging.getLogger("trio_sse")


class _SessionStream(PrefixedStream):
    """The session's stream: the replayed head, then the held-back frames, then the socket.

    wsproto's server drops whatever it received between the request and its own ``101``
    (it starts the frame parser empty on accept), so frames the client sent right behind
    its handshake (h11's ``trailing_data``) are held back until :meth:`release`, called
    once the handshake is accepted; the socket is not read before them. The stream also
    counts WebSocket bytes, leaving out the replayed head.
    """

    __slots__ = ("_counters", "_held", "_released", "_uncounted")

    def __init__(
        self, stream: trio.abc.Stream, head: bytes, held: bytes, counters: ServerStatistics
    ) -> None:
        super().__init__(stream, head)
        self._held = held
        self._released = trio.Event()
        if not held:
            self._released.set()
        self._uncounted = len(head)
        self._counters = counters

    def release(self) -> None:
        """Let the held-back frames (and then the socket) be received."""
        if not self._released.is_set():
            self.extend(self._held)
            self._held = b""
            self._released.set()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if not self.pending and not self._released.is_set():
            await self._released.wait()
        data = await super().receive_some(max_bytes)
        skip = min(self._uncounted, len(data))
        self._uncounted -= skip
        self._counters.websocket_bytes_received += len(data) - skip
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await super().send_all(data)
        self._counters.websocket_bytes_sent += len(data)


async def run_session(
    response: WebSocketResponse,
    request: Request,
    host: SessionHost,
    *,
    stream: trio.abc.Stream,
    head: bytes,
    held: bytes,
) -> int:
    """Accept the handshake on *stream* and run the handler; return the bytes sent.

    Args:
        response: The handler's answer, with its handler and options.
        request: The handshake request (for the handler).
        host: The connection being taken over.
        stream: The connection's byte stream.
        head: The handshake request, serialised again, for trio-websocket to read.
        held: Bytes the client sent behind its handshake (replayed after the ``101``).
    """
    counters = host.counters
    options = response.options
    session_stream = _SessionStream(stream, head, held, counters)
    sent_before = counters.websocket_bytes_sent
    async with trio.open_nursery() as session:
        ws: trio_websocket.WebSocketConnection | None = await session.start(
            _host_reader, response, session_stream, session.cancel_scope
        )
        if ws is None:
            logger.debug("WebSocket handshake timed out or peer left: %s", host.peer)
            return 0
        counters.count_response(101)
        counters.websockets_total += 1
        counters.websockets_open += 1
        try:
            session.start_soon(_run_handler, response, host, request, ws)
            if options.heartbeat_interval is not None:
                session.start_soon(_heartbeat, options, host, ws, options.heartbeat_interval)
            await host.wait_shutdown()
            # Server shutdown: "going away". The reader's end cancels the rest.
            with trio.move_on_after(options.disconnect_timeout):
                await ws.aclose(CLOSE_GOING_AWAY, "server shutting down")
            session.cancel_scope.cancel()
        finally:
            counters.websockets_open -= 1
    return counters.websocket_bytes_sent - sent_before


async def _host_reader(
    response: WebSocketResponse,
    stream: _SessionStream,
    session_scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[trio_websocket.WebSocketConnection | None],
) -> None:
    """Do the handshake; host trio-websocket's reader; cancel the session when it ends."""
    options = response.options
    ws: trio_websocket.WebSocketConnection | None = None
    try:
        async with trio.open_nursery() as readers:
            with trio.move_on_after(options.connect_timeout):
                ws_request = await trio_websocket.wrap_server_stream(
                    readers,
                    stream,
                    message_queue_size=options.message_queue_size,
                    max_message_size=options.max_message_size,
                )
                try:
                    ws = await ws_request.accept(
                        subprotocol=options.select_subprotocol(ws_request.proposed_subprotocols),
                        extra_headers=response.header_fields(),
                    )
                except trio_websocket.ConnectionClosed:
                    ws = None  # the peer left before the 101 was written: end quietly
                else:
                    stream.release()
            if ws is None:
                readers.cancel_scope.cancel()
            task_status.started(ws)
    finally:
        # The reader ended: the peer closed or left, or the close handshake is done.
        session_scope.cancel()


async def _run_handler(
    response: WebSocketResponse,
    host: SessionHost,
    request: Request,
    ws: trio_websocket.WebSocketConnection,
) -> None:
    code, reason = CLOSE_NORMAL, None
    try:
        await response.handler(request, ws)
    except trio_websocket.ConnectionClosed:
        pass  # the connection closed under the handler: nothing went wrong here
    except Exception:
        host.counters.handler_errors += 1
        logger.exception("WebSocket handler failed for %s %s", request.method, request.target)
        code, reason = CLOSE_INTERNAL_ERROR, "internal error"
    with trio.move_on_after(response.options.disconnect_timeout):
        await ws.aclose(code, reason)


async def _heartbeat(
    options: WebSocketOptions,
    host: SessionHost,
    ws: trio_websocket.WebSocketConnection,
    interval: float,
) -> None:
    while True:
        await trio.sleep(interval)
        with trio.move_on_after(options.heartbeat_timeout) as waiting:
            try:
                await ws.ping()
            except trio_websocket.ConnectionClosed:
                return
        if waiting.cancelled_caught:
            host.counters.websocket_heartbeat_timeouts += 1
            logger.info("WebSocket peer %s did not answer a ping; closing", host.peer)
            with trio.move_on_after(options.disconnect_timeout):
                await ws.aclose(CLOSE_INTERNAL_ERROR, "heartbeat timeout")
            return
