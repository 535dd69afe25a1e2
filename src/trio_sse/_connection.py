"""One client connection: the h11 request loop, responses, streams and their teardown.

This is one of the two places where trio-sse does I/O (the other is ``_server.py``).

Theory of operation
-------------------
Each accepted connection runs :meth:`HTTPConnection.run` in its own task. h11 holds the
HTTP/1.1 protocol state; this file moves bytes between it and the ``trio.abc.Stream``.

* **Request loop.** Wait for a request head (keep-alive idle timeout while nothing has
  arrived, then the head timeout), read the body within its limits, call the application,
  write the response, and start the next cycle if both sides allow keep-alive.
* **Streamed responses** (``StreamingResponse``, ``EventStreamResponse``) open a nursery:
  the *producer* (the application's iterator or event-stream function; the "ticker") runs
  as a child task, while the connection task itself keeps reading the socket. EOF or a reset
  on the socket cancels the nursery, so the producer stops at once: no status flag is
  polled, the cancellation arrives by structure. The same reading loop writes idle
  heartbeats. When the producer returns, the nursery is cancelled from the other side and
  the body is terminated.
* **WebSocket.** A :class:`~trio_sse.WebSocketResponse` to a valid handshake hands the
  connection over to trio-websocket (``_websocket.py``): h11 stops at the protocol
  switch, the session's tasks run in a nursery opened by this task, and the connection
  ends with the WebSocket. An invalid handshake is answered here, like any response.
* **Errors.** A malformed request gets h11's status hint (400, 431, ...) and the connection
  closes after draining what the client still sends; an exception in a handler becomes a
  500 and is logged once; a dead peer ends the connection quietly. Nothing escapes to the
  server's nursery except ``Cancelled`` and ``KeyboardInterrupt``.
* **Shutdown.** The server cancels :attr:`HTTPConnection._interrupt`, the scope around
  the only waits that may block for long (keep-alive idle, stream watching, a WebSocket
  session), and stops keep-alive. Streams then write their farewell event and end, and
  WebSockets close with ``1001`` (going away), within the grace period,
  which the server enforces with a deadline on the connection's own cancel scope.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import AsyncIterable
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, NoReturn

import h11
import trio

from ._exceptions import ConnectionClosed, SlowClientError
from ._headers import Headers
from ._request import Request
from ._response import BaseResponse, Response, StreamingResponse
from ._websocket import WebSocketResponse, handshake_refusal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._server import Server
    from ._sse import _StreamSetup
    from ._stats import _Counters

__all__ = ["HTTPConnection"]

logger = logging.getLogger("trio_sse")
access_logger = logging.getLogger("trio_sse.access")

RECEIVE_SIZE: Final = 16 * 1024
#: How long we keep reading (and discarding) after an error response before closing, so
#: the client sees our answer instead of a reset.
DRAIN_TIMEOUT: Final = 1.0
DRAIN_MAX_BYTES: Final = 256 * 1024

#: A successful write is a cancellation point; it is also a schedule point every this many
#: writes in a row that did not block (and whenever one blocks). Yielding on every write
#: would cost a full trip through Trio's scheduler per event, for a fairness that the
#: producer's own waits (its sleep, its queue) already give in practice.
YIELD_EVERY: Final = 16
_RAW_WRITES: Final = os.name == "posix"

_REASONS: Final = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
_NO_BODY_STATUSES: Final = frozenset({204, 304})


class _DateCache:
    """The ``Date`` header value (RFC 9110 §6.6.1), formatted at most once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value


_date = _DateCache()


class _HTTPError(Exception):
    """An error response to send, then close the connection."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _StreamOutcome:
    __slots__ = ("disconnected", "error", "finished", "shutdown")

    def __init__(self) -> None:
        self.finished = False  # the producer returned normally
        self.error = False  # the producer raised (logged already)
        self.disconnected = False  # the peer left (EOF, reset, send failure, send timeout)
        self.shutdown = False  # the server is shutting down


class _WriteLock:
    """Serialises a streamed body's writes (events, heartbeats, the farewell), FIFO.

    Taking it when it is free costs no checkpoint (the write that follows is one) and no
    ``ParkingLot`` exists until two writers meet: an idle stream holds two slots, not a
    ``trio.StrictFIFOLock`` with its queue. ``release`` hands the lock straight to the
    first waiter, as ``trio.Lock`` does, so a cancelled waiter can never own it.
    """

    __slots__ = ("_lot", "held")

    def __init__(self) -> None:
        self.held = False
        self._lot: trio.lowlevel.ParkingLot | None = None

    async def acquire(self) -> None:
        if not self.held:
            self.held = True
            return
        if self._lot is None:
            self._lot = trio.lowlevel.ParkingLot()
        await self._lot.park()  # returns owning the lock: ``release`` handed it over

    def release(self) -> None:
        if self._lot:
            self._lot.unpark()
        else:
            self.held = False


def _head_size(event: h11.Request) -> int:
    # Request line plus header fields as they were on the wire (modulo optional whitespace).
    size = len(event.method) + len(event.target) + 12
    for name, value in event.headers.raw_items():  # (a list: faster than the Sequence)
        size += len(name) + len(value) + 4
    return size


class HTTPConnection:
    """Serve one client connection. Internal: created by :class:`trio_sse.Server`."""

    __slots__ = (
        "_body_bytes",
        "_chunked",
        "_client",
        "_config",
        "_conn",
        "_counters",
        "_interrupt",
        "_last_write",
        "_server",
        "_sock",
        "_stream",
        "_unyielded",
        "_write_lock",
    )

    def __init__(
        self, server: Server, stream: trio.abc.Stream, client: tuple[str, int] | None
    ) -> None:
        self._server = server
        self._config = server.config
        self._counters: _Counters = server._counters
        self._stream = stream
        # Writes go straight to the socket's file descriptor when there is one (see
        # ``_write``); any other stream (TLS, memory, ...) through ``send_all``.
        self._sock: trio.socket.SocketType | None = (
            stream.socket if _RAW_WRITES and isinstance(stream, trio.SocketStream) else None
        )
        self._unyielded = 0
        self._client = client
        self._conn = h11.Connection(
            h11.SERVER, max_incomplete_event_size=self._config.max_header_bytes
        )
        self._interrupt: trio.CancelScope | None = None
        self._write_lock: _WriteLock | None = None
        self._chunked = False  # this response's body is chunked and framed by write_body
        self._last_write = 0.0
        self._body_bytes = 0

    # -- called by the server ----------------------------------------------------------

    def begin_shutdown(self) -> None:
        """Stop keep-alive and interrupt an idle wait or a stream (sync; the server calls it)."""
        if self._interrupt is not None:
            self._interrupt.cancel()

    async def run(self) -> None:
        """Serve requests until the connection closes. Never raises ``Exception``.

        The request loop itself (one frame fewer on the stack of every open stream).
        """
        conn = self._conn
        first = True
        try:
            while True:
                started = trio.current_time()
                if not first and not conn.trailing_data[0]:
                    # Idle keep-alive: wait for the first byte of the next request, or close.
                    if self._server.shutting_down:
                        return
                    with trio.move_on_after(self._config.keepalive_timeout) as idle:
                        self._interrupt = idle
                        data = await self._receive()
                    self._interrupt = None
                    if idle.cancelled_caught or not data:
                        return
                    started = trio.current_time()
                try:
                    keep_alive = await self._handle(started)
                except h11.RemoteProtocolError as exc:
                    await self._send_error(exc.error_status_hint, str(exc))
                    return
                except _HTTPError as exc:
                    await self._send_error(exc.status, exc.detail)
                    return
                if not keep_alive:
                    return
                first = False
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
            pass
        except Exception:
            logger.exception("unexpected error on connection from %s", self._peer())

    # -- the request loop ----------------------------------------------------------------

    def _peer(self) -> str:
        return f"{self._client[0]}:{self._client[1]}" if self._client else "-"

    async def _receive(self) -> bytes:
        data = await self._read()
        self._conn.receive_data(data)
        return data

    async def _read(self) -> bytes:
        """Read what has arrived (up to ``RECEIVE_SIZE`` bytes); ``b""`` at EOF.

        On a socket: ``read()`` on its file descriptor, waiting with
        ``trio.lowlevel.wait_readable`` only when nothing is there (the same checkpoint
        rules as :meth:`_write`). Otherwise ``receive_some``.

        Raises:
            trio.BrokenResourceError: the connection was reset (or the socket closed).
        """
        sock = self._sock
        if sock is None:
            return bytes(await self._stream.receive_some(RECEIVE_SIZE))
        await trio.lowlevel.checkpoint_if_cancelled()
        fd = sock.fileno()
        waited = False
        while True:
            try:
                data = os.read(fd, RECEIVE_SIZE)
                break
            except BlockingIOError:
                waited = True
                await trio.lowlevel.wait_readable(fd)
            except OSError as exc:
                raise trio.BrokenResourceError(f"socket read failed: {exc}") from exc
        if waited:
            self._unyielded = 0
        elif self._time_to_yield():
            await trio.lowlevel.cancel_shielded_checkpoint()
        return data

    def _time_to_yield(self) -> bool:
        """Count a read or write that completed without waiting; True every YIELD_EVERY."""
        self._unyielded += 1
        if self._unyielded < YIELD_EVERY:
            return False
        self._unyielded = 0
        return True

    async def _next_event(self) -> h11.Event:
        conn = self._conn
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                await self._receive()
                continue
            return event  # type: ignore[return-value]

    async def _read_body(self, event: h11.Request, headers: Headers) -> bytes:
        limit = self._config.max_body_bytes
        length = headers.get("content-length")
        if length is not None and int(length) > limit:  # h11 validated the digits
            raise _HTTPError(413, "request body too large")
        if length == "0" or (length is None and "transfer-encoding" not in headers):
            # h11 already knows there is no body; consume its EndOfMessage.
            end = await self._next_event()
            assert isinstance(end, h11.EndOfMessage)
            return b""
        if self._conn.they_are_waiting_for_100_continue:
            await self._send_events(h11.InformationalResponse(status_code=100, headers=[]))
        chunks: list[bytes] = []
        total = 0
        with trio.move_on_after(self._config.request_body_timeout) as body_timer:
            while True:
                ev = await self._next_event()
                if isinstance(ev, h11.Data):
                    total += len(ev.data)
                    if total > limit:
                        raise _HTTPError(413, "request body too large")
                    chunks.append(ev.data)
                elif isinstance(ev, h11.EndOfMessage):
                    break
                else:  # ConnectionClosed mid-body: h11 raises for that; nothing else occurs
                    raise trio.BrokenResourceError("peer closed while sending the body")
        if body_timer.cancelled_caught:
            raise _HTTPError(408, "request body timeout")
        return b"".join(chunks)

    async def _handle(self, started: float) -> bool:
        """Read and serve one request; return whether the connection may be reused."""
        event = self._conn.next_event()
        if event is h11.NEED_DATA:  # (usually the whole head came in one read: no timer)
            with trio.move_on_at(started + self._config.request_head_timeout) as head:
                event = await self._next_event()
            if head.cancelled_caught:
                raise _HTTPError(408, "request head timeout")
        if isinstance(event, h11.ConnectionClosed):
            return False
        assert isinstance(event, h11.Request)
        counters = self._counters
        counters.requests_total += 1
        t0 = time.perf_counter()
        if _head_size(event) > self._config.max_header_bytes:
            raise _HTTPError(431, "request head too large")
        if event.http_version not in (b"1.1", b"1.0"):
            raise _HTTPError(505, "HTTP version not supported")
        headers = Headers._from_h11(event.headers.raw_items())
        if "content-length" in headers and "transfer-encoding" in headers:
            # RFC 9112 §6.1: a smuggling attempt; we may reject it and must close after.
            raise _HTTPError(400, "both Content-Length and Transfer-Encoding")
        body = await self._read_body(event, headers)
        request = Request(
            method=event.method.decode("ascii"),
            target=event.target.decode("ascii"),
            headers=headers,
            body=body,
            http_version=event.http_version.decode("ascii"),
            client=self._client,
        )
        response = await self._call_app(request)
        if isinstance(response, WebSocketResponse):
            refusal = handshake_refusal(request)
            if refusal is None:
                # The connection leaves HTTP for good: h11 never writes the 101 or more.
                status, sent = await response._run_session(self, event, request)
            else:
                status, sent = await self._send_response(request, [refusal])
        else:
            # Held for the response's whole life (hours for a stream), so keep nothing the
            # response does not need: not h11's request event, not the response object.
            del event
            pending = [response]
            del response
            status, sent = await self._send_response(request, pending)
        if access_logger.isEnabledFor(logging.INFO):
            access_logger.info(
                '%s - "%s %s HTTP/%s" %d %d %.1fms',
                self._peer(),
                request.method,
                request.target,
                request.http_version,
                status,
                sent,
                (time.perf_counter() - t0) * 1000,
            )
        conn = self._conn
        return (
            conn.our_state is h11.DONE
            and conn.their_state is h11.DONE
            and not self._server.shutting_down
        )

    async def _call_app(self, request: Request) -> BaseResponse:
        try:
            response: object = await self._server.app(request)
        except Exception:
            self._counters.handler_errors += 1
            logger.exception("handler failed for %s %s", request.method, request.target)
            return Response("Internal Server Error\n", status=500)
        if not isinstance(response, BaseResponse):
            self._counters.handler_errors += 1
            logger.error(
                "handler for %s %s returned %r, not a response",
                request.method,
                request.target,
                response,
            )
            return Response("Internal Server Error\n", status=500)
        return response

    # -- writing -------------------------------------------------------------------------

    def _head(
        self, status: int, headers: list[tuple[bytes, bytes]], length: int | None
    ) -> h11.Response:
        headers.append((b"date", _date.get()))
        if length is not None and status not in _NO_BODY_STATUSES:
            headers.append((b"content-length", str(length).encode("ascii")))
        if self._server.shutting_down:
            headers.append((b"connection", b"close"))
        return h11.Response(status_code=status, headers=headers, reason=_REASONS.get(status, b""))

    async def _send_events(self, *events: h11.Event) -> None:
        conn = self._conn
        # A cancellation here, before anything is serialised or written, leaves the
        # connection intact (e.g. a shutdown during a burst still gets its farewell);
        # ``_write`` then has no checkpoint before its first byte.
        await trio.lowlevel.checkpoint_if_cancelled()
        if len(events) == 1:
            data = conn.send(events[0]) or b""
        else:
            data = b"".join([conn.send(ev) or b"" for ev in events])
        await self._write(data)

    async def _write(self, data: bytes) -> None:
        """Write *data* completely, within ``send_timeout`` once the socket is full.

        On a socket this is one ``write()`` system call in the common case: Trio's
        ``send_all`` would add a conflict detector, an async context manager, a cancel scope
        for the timeout and a trip through the scheduler to every event. The caller has
        checked for cancellation already (so a cancellation never interrupts a write that
        has not begun); a write that completes is a schedule point every ``YIELD_EVERY``
        writes, and only a write that would block waits, with
        ``trio.lowlevel.wait_writable``, bounded by ``send_timeout`` from then on.

        Whatever interrupts it (a failure, a timeout, a cancellation) tells h11 the send
        failed: part of the bytes may be on the wire, so the framing is lost.

        Raises:
            trio.BrokenResourceError: the peer is gone (or the socket is closed).
            SlowClientError: the client did not read within ``send_timeout``.
        """
        try:
            sock = self._sock
            timeout = self._config.send_timeout
            if sock is None:
                with trio.move_on_after(timeout) as timer:
                    await self._stream.send_all(data)
                if timer.cancelled_caught:
                    self._slow_client()
                return
            fd = sock.fileno()
            try:
                sent = os.write(fd, data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise trio.BrokenResourceError(f"socket write failed: {exc}") from exc
            if sent == len(data):
                if self._time_to_yield():
                    await trio.lowlevel.cancel_shielded_checkpoint()
                return
            self._unyielded = 0
            view = memoryview(data)[sent:]
            with trio.move_on_after(timeout) as timer:
                while view:
                    await trio.lowlevel.wait_writable(fd)
                    try:
                        view = view[os.write(fd, view) :]
                    except BlockingIOError:
                        pass
                    except OSError as exc:
                        raise trio.BrokenResourceError(f"socket write failed: {exc}") from exc
            if timer.cancelled_caught:
                self._slow_client()
        except BaseException:
            self._conn.send_failed()
            raise

    def _slow_client(self) -> NoReturn:
        self._counters.slow_clients_dropped += 1
        raise SlowClientError("the client did not read within send_timeout")

    async def _send_response(
        self, request: Request, pending: list[BaseResponse]
    ) -> tuple[int, int]:
        """Write the response in *pending* (taken out of it); return (status, body bytes).

        The response comes in a list so that no frame keeps it alive while a stream runs.
        """
        response = pending.pop()
        status = response.status
        self._counters.count_response(status)
        headers = response._h11_headers()
        if isinstance(response, Response):
            body = response.body
            head = self._head(status, headers, len(body))
            if request.method == "HEAD" or status in _NO_BODY_STATUSES or not body:
                await self._send_events(head, h11.EndOfMessage())
                return status, 0
            await self._send_events(head, h11.Data(data=body), h11.EndOfMessage())
            return status, len(body)
        # A body of unknown length: chunked for an HTTP/1.1 client (asked for explicitly, so
        # write_body can frame the chunks itself), closed-delimited for HTTP/1.0 (h11).
        self._chunked = request.http_version == "1.1" and not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers
        )
        if self._chunked:
            headers.append((b"transfer-encoding", b"chunked"))
        await self._send_events(self._head(status, headers, None))
        del headers
        if request.method == "HEAD":
            await self._send_events(h11.EndOfMessage())
            return status, 0
        if isinstance(response, StreamingResponse):
            produce = _iterate(self, response)
            del response
            return status, await self._stream_body(produce)
        setup = getattr(response, "_stream_setup", None)
        if setup is None:
            raise TypeError(f"unsupported response type {type(response).__name__}")
        # EventStreamResponse (``_sse.py``): its producer, heartbeat and farewell.
        stream: _StreamSetup = setup(self, request)
        del response, setup
        counters = self._counters
        counters.event_streams_open += 1
        try:
            return status, await self._stream_body(
                stream.produce,
                heartbeat=stream.heartbeat,
                heartbeat_bytes=stream.heartbeat_bytes,
                farewell=stream.farewell,
                counts_as_event=True,
            )
        finally:
            counters.event_streams_open -= 1

    async def write_body(self, data: bytes) -> None:
        """Write one piece of a streamed body, flushed; serialised with heartbeats.

        Raises:
            ConnectionClosed: the peer is gone or the stream can no longer be written.
            SlowClientError: the write did not complete within ``send_timeout``.
        """
        lock = self._write_lock
        assert lock is not None, "write_body outside a streamed response"
        # Hot path (one call per event): take the lock without a checkpoint of its own when
        # it is free (the write below is the checkpoint), and wait only when it is contended.
        if lock.held:
            await lock.acquire()
        else:
            lock.held = True
        try:
            conn = self._conn
            if conn.our_state is not h11.SEND_BODY:
                raise ConnectionClosed("the stream is closed")
            try:
                if self._chunked:
                    # h11 chose chunked framing (we asked for it in the head); its writer
                    # keeps no state for data, so frame here and save a trip through it.
                    await trio.lowlevel.checkpoint_if_cancelled()  # (see _send_events)
                    await self._write(b"%x\r\n%b\r\n" % (len(data), data))
                else:
                    await self._send_events(h11.Data(data=data))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionClosed("the client disconnected") from exc
            self._last_write = trio.current_time()
            self._body_bytes += len(data)
        finally:
            lock.release()

    async def _stream_body(
        self,
        produce: Callable[[], Awaitable[None]],
        *,
        heartbeat: float | None = None,
        heartbeat_bytes: bytes = b"",
        farewell: bytes | None = None,
        counts_as_event: bool = False,
    ) -> int:
        """Run a streamed body: *produce* in a child task, the socket watched here.

        Returns the number of body bytes written (chunk framing excluded).
        """
        self._body_bytes = 0
        outcome = _StreamOutcome()
        counters = self._counters
        self._write_lock = _WriteLock()
        self._last_write = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run_producer, produce, nursery.cancel_scope, outcome)
            # Watch the socket, here in the connection's task (inline: this frame waits
            # for as long as the stream lives): EOF or a reset means the client left.
            # Also write idle heartbeats, and stop when the server shuts down. Then (or
            # when the producer finishing cancels this) the producer is cancelled.
            fd = -1 if self._sock is None else self._sock.fileno()
            conn = self._conn
            limit = self._config.max_header_bytes
            received = 0
            server = self._server
            try:
                while True:
                    if server.shutting_down:
                        outcome.shutdown = True
                        break
                    # One scope per wait, both the idle-heartbeat timer and the shutdown
                    # interrupt (the server cancels ``self._interrupt``).
                    deadline = math.inf if heartbeat is None else self._last_write + heartbeat
                    with trio.CancelScope(deadline=deadline) as timer:
                        self._interrupt = timer
                        if fd < 0:
                            data = await self._read()
                        else:
                            # _read's wait loop, inline: calling _read here costs every
                            # open stream ~0.8 KB (measured) for the frame it keeps.
                            while True:
                                await trio.lowlevel.wait_readable(fd)
                                try:
                                    data = os.read(fd, RECEIVE_SIZE)
                                    break
                                except BlockingIOError:
                                    continue
                                except OSError as exc:
                                    raise trio.BrokenResourceError(f"read failed: {exc}") from exc
                    self._interrupt = None
                    if timer.cancelled_caught:
                        if heartbeat is None or trio.current_time() < deadline:
                            outcome.shutdown = True  # cancelled before its deadline: shutdown
                            break
                        # Idle: nothing read, nothing written since the deadline was set?
                        if (
                            trio.current_time() >= self._last_write + heartbeat
                            and not self._write_lock.held
                        ):
                            await self.write_body(heartbeat_bytes)
                            if counts_as_event:
                                self._counters.events_sent += 1
                                self._counters.bytes_sent += len(heartbeat_bytes)
                        continue
                    if not data:
                        outcome.disconnected = True
                        break
                    # Pipelined bytes behind a stream: keep them for the next cycle, bounded.
                    received += len(data)
                    if received > limit:
                        outcome.disconnected = True
                        break
                    conn.receive_data(bytes(data))
            except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
                outcome.disconnected = True
            finally:
                self._interrupt = None
            nursery.cancel_scope.cancel()
        if outcome.disconnected:
            counters.stream_disconnects += 1
            return self._body_bytes
        conn = self._conn
        if conn.our_state is not h11.SEND_BODY:
            return self._body_bytes  # a write failed part-way: the framing is lost, just close
        if outcome.shutdown and farewell is not None:
            try:
                await self.write_body(farewell)
            except ConnectionClosed:
                return self._body_bytes
        if outcome.error:
            # Close without the terminating chunk: the client sees an aborted body.
            return self._body_bytes
        try:
            await self._send_events(h11.EndOfMessage())
        except (trio.BrokenResourceError, trio.ClosedResourceError, SlowClientError):
            pass
        return self._body_bytes

    async def _run_producer(
        self,
        produce: Callable[[], Awaitable[None]],
        scope: trio.CancelScope,
        outcome: _StreamOutcome,
    ) -> None:
        counters = self._counters
        counters.tickers_active += 1
        try:
            await produce()
            outcome.finished = True
        except ConnectionClosed:
            outcome.disconnected = True
        except Exception:
            counters.handler_errors += 1
            outcome.error = True
            logger.exception("stream producer failed for client %s", self._peer())
        finally:
            counters.tickers_active -= 1
            scope.cancel()

    async def _send_error(
        self, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Answer with an error status if we still can, then drain and let the caller close."""
        conn = self._conn
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        self._counters.count_response(status)
        reason = _REASONS.get(status, b"Error")
        body = reason + b"\n"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"connection", b"close"),
            *(extra or ()),
        ]
        logger.debug("answering %d to %s: %s", status, self._peer(), detail)
        try:
            await self._send_events(
                self._head(status, headers, len(body)), h11.Data(data=body), h11.EndOfMessage()
            )
        except (trio.BrokenResourceError, trio.ClosedResourceError, SlowClientError):
            return
        except h11.LocalProtocolError:  # e.g. the peer's request was unparseable as 1.x
            return
        if access_logger.isEnabledFor(logging.INFO):
            access_logger.info('%s - "-" %d %d (%s)', self._peer(), status, len(body), detail)
        await drain_and_close(self._stream)


async def drain_and_close(stream: trio.abc.Stream) -> None:
    """Half-close, then read and discard what the peer still sends, for a bounded time.

    Closing a TCP socket with unread input makes the kernel send a reset, which can destroy
    the response the client has not read yet (RFC 9112 §9.6). The caller closes the stream.
    """
    with trio.move_on_after(DRAIN_TIMEOUT):
        try:
            if isinstance(stream, trio.abc.HalfCloseableStream):
                await stream.send_eof()
            drained = 0
            while drained < DRAIN_MAX_BYTES:
                data = await stream.receive_some(RECEIVE_SIZE)
                if not data:
                    break
                drained += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def _iterate(conn: HTTPConnection, response: StreamingResponse) -> Callable[[], Awaitable[None]]:
    content = response.content

    async def produce() -> None:
        if isinstance(content, AsyncIterable):
            async for piece in content:
                if piece:
                    await conn.write_body(piece.encode() if isinstance(piece, str) else piece)
        else:
            for piece in content:
                if piece:
                    await conn.write_body(piece.encode() if isinstance(piece, str) else piece)
                else:
                    await trio.lowlevel.checkpoint()

    return produce
