"""One HTTP/1.1 connection: the h11 request loop, error answers and response dispatch.

Theory of operation
-------------------
Each accepted connection runs :meth:`HTTPConnection.run` in its own task. h11 holds the
HTTP/1.1 protocol state; the bytes move through a :class:`~trio_sse._transport.Transport`
(the only code below Trio's streams); the connection knows its server only through a
:class:`~trio_sse._context.ServerContext`.

* **Request loop.** Wait for a request head (keep-alive idle timeout while nothing has
  arrived, then the head timeout), read the body within its limits, call the application,
  answer, and start the next cycle if both sides allow keep-alive.
* **Dispatch** is one ``match`` on the response: a :class:`~trio_sse.Response` is written
  here; a streamed body (:class:`~trio_sse.StreamingResponse`,
  :class:`~trio_sse.EventStreamResponse`) gets its head written here and its body run by
  the body driver (``_body.py``), for which this connection is the
  :class:`~trio_sse._context.ResponseChannel`; a :class:`~trio_sse.WebSocketResponse`
  to a valid handshake hands the connection to the WebSocket driver (``_ws_session.py``),
  for which it is the :class:`~trio_sse._context.SessionHost`.
* **Errors.** A malformed request gets h11's status hint (400, 431, ...) and the connection
  closes after draining what the client still sends; an exception in a handler becomes a
  500 and is logged once; a dead peer ends the connection quietly. Nothing escapes to the
  server's nursery except ``Cancelled`` and ``KeyboardInterrupt``.
* **Shutdown.** The context calls :meth:`HTTPConnection.begin_shutdown`, which cancels the
  scope around the only waits that may block for long (keep-alive idle, a stream's watch,
  a WebSocket session) and stops keep-alive. Streams then write their farewell event and
  end, and WebSockets close with ``1001``, within the grace period, which the server
  enforces with a deadline on the scope hosting every connection.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

import h11
import trio

from ._body import event_stream_body, run_body, streaming_body
from ._exceptions import SlowClientError, StreamClosedError
from ._h11_channel import H11Channel
from ._headers import Headers
from ._http11 import (
    NO_BODY_STATUSES,
    HTTPError,
    access_logger,
    error_response,
    head_size,
    log_access,
    request_head,
    response_head,
)
from ._request import Request
from ._response import BaseResponse, Response, StreamingResponse
from ._sse import EventStreamResponse
from ._transport import drain_and_close
from ._websocket import WebSocketResponse, handshake_refusal
from ._ws_session import run_session

if TYPE_CHECKING:
    from ._context import ServerContext
    from ._transport import Transport

__all__ = ["HTTPConnection"]

logger = logging.getLogger("trio_sse")

_INTERNAL_ERROR: Final = Response("Internal Server Error\n", status=500)

#: Shared strings for a request's method and version, which an open stream's request keeps.
_METHODS: Final = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")}
_VERSIONS: Final = {b"1.1": "1.1", b"1.0": "1.0"}


class HTTPConnection:
    """Serve one HTTP/1.1 client connection. Internal: created by :class:`trio_sse.Server`."""

    __slots__ = ("_channel", "_config", "_context", "_started")

    def __init__(
        self,
        context: ServerContext,
        transport: Transport,
        client: tuple[str, int] | None,
        received: bytes | None = None,
        started: float | None = None,
    ) -> None:
        """*received*: the bytes of a first read already done (``b""``: EOF), begun at
        *started*, which the first request's head deadline counts from."""
        self._context = context
        self._config = context.config
        self._channel = H11Channel(context, transport, client)
        self._started = started
        if received is not None:
            self._channel.conn.receive_data(received)

    def begin_shutdown(self) -> None:
        """Stop keep-alive and interrupt an idle wait or a stream (sync; the server calls it)."""
        self._channel.begin_shutdown()

    async def run(self) -> None:
        """Serve requests until the connection closes. Never raises ``Exception``.

        The request loop and the dispatch, in one frame: it stays on the stack of every
        open stream, so every frame saved here is memory saved per stream.
        """
        channel = self._channel
        conn = channel.conn
        context = self._context
        first = True
        try:
            while True:
                # When the head began to arrive, if known (else: see _read_request).
                started = self._started if first else None
                if not first and not conn.trailing_data[0]:
                    # Keep-alive: the next request, if it has arrived by our next turn;
                    # else wait for its first byte (idle timeout, shutdown), or close.
                    data = await channel.receive_after_turn()
                    if data is None:
                        if context.shutting_down:
                            return
                        with trio.move_on_after(self._config.keepalive_timeout) as idle:
                            channel.interrupt = idle
                            data = await channel.receive(idle=True)
                        channel.interrupt = None
                        if idle.cancelled_caught:
                            return
                    if not data:
                        return
                try:
                    request = await self._read_request(started)
                except h11.RemoteProtocolError as exc:
                    await self._send_error(exc.error_status_hint, str(exc))
                    return
                except HTTPError as exc:
                    await self._send_error(exc.status, exc.detail)
                    return
                if request is None:
                    return
                t0 = time.perf_counter()
                response = await context.call_app(request)
                channel.body_bytes = 0
                match response:
                    case Response():
                        status = await self._send_complete(request, response)
                    case StreamingResponse():
                        status = response.status
                        if await self._send_stream_head(request, response):
                            body = streaming_body(channel, response)
                            del response  # nothing keeps the response while the body runs
                            await run_body(channel, body)
                    case EventStreamResponse():
                        status = response.status
                        if await self._send_stream_head(request, response):
                            body = event_stream_body(channel, request, response, self._config)
                            del response
                            await run_body(channel, body)
                    case WebSocketResponse():
                        refusal = handshake_refusal(request)
                        if refusal is not None:
                            status = await self._send_complete(request, refusal)
                        else:
                            status = 101
                            # The connection leaves HTTP for good: h11 never writes the 101.
                            await self._hand_over(request, response)
                            self._log(request, status, t0)
                            return
                    case _:
                        context.counters.handler_errors += 1
                        logger.error("unsupported response type %s", type(response).__name__)
                        status = await self._send_complete(request, _INTERNAL_ERROR)
                self._log(request, status, t0)
                if not (
                    conn.our_state is h11.DONE
                    and conn.their_state is h11.DONE
                    and not context.shutting_down
                ):
                    return
                first = False
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, StreamClosedError):
            pass
        except Exception:
            logger.exception("unexpected error on connection from %s", channel.peer)

    def _log(self, request: Request, status: int, t0: float) -> None:
        log_access(self._channel.peer, request, status, self._channel.body_bytes, t0)

    # -- reading a request ---------------------------------------------------------------

    async def _read_request(self, started: float | None) -> Request | None:
        """Read one request head and body; ``None`` if the client closed first.

        The head timeout counts from *started*, or from now when ``None``: nothing has
        waited since the bytes h11 holds arrived.
        """
        event = self._channel.conn.next_event()
        if event is h11.NEED_DATA:  # (usually the whole head came in one read: no timer)
            if started is None:
                started = trio.current_time()
            with trio.move_on_at(started + self._config.request_head_timeout) as head:
                event = await self._channel.next_event()
            if head.cancelled_caught:
                raise HTTPError(408, "request head timeout")
        if isinstance(event, h11.ConnectionClosed):
            return None
        assert isinstance(event, h11.Request)
        self._context.counters.requests_total += 1
        if head_size(event) > self._config.max_header_bytes:
            raise HTTPError(431, "request head too large")
        http_version = _VERSIONS.get(event.http_version)
        if http_version is None:
            raise HTTPError(505, "HTTP version not supported")
        headers = Headers.from_wire(event.headers.raw_items())
        if "content-length" in headers and "transfer-encoding" in headers:
            # RFC 9112 §6.1: a smuggling attempt; we may reject it and must close after.
            raise HTTPError(400, "both Content-Length and Transfer-Encoding")
        body = await self._read_body(headers)
        return Request(
            method=_METHODS.get(event.method) or event.method.decode("ascii"),
            target=event.target.decode("ascii"),
            headers=headers,
            body=body,
            http_version=http_version,
            client=self._channel.client,
        )

    async def _read_body(self, headers: Headers) -> bytes:
        limit = self._config.max_body_bytes
        length = headers.get("content-length")
        if length is not None and int(length) > limit:  # h11 validated the digits
            raise HTTPError(413, "request body too large")
        if length == "0" or (length is None and "transfer-encoding" not in headers):
            # h11 already knows there is no body; consume its EndOfMessage.
            end = await self._channel.next_event()
            assert isinstance(end, h11.EndOfMessage)
            return b""
        if self._channel.conn.they_are_waiting_for_100_continue:
            await self._channel.send_events(h11.InformationalResponse(status_code=100, headers=[]))
        chunks: list[bytes] = []
        total = 0
        with trio.move_on_after(self._config.request_body_timeout) as body_timer:
            while True:
                ev = await self._channel.next_event()
                if isinstance(ev, h11.Data):
                    total += len(ev.data)
                    if total > limit:
                        raise HTTPError(413, "request body too large")
                    chunks.append(ev.data)
                elif isinstance(ev, h11.EndOfMessage):
                    break
                else:  # h11.ConnectionClosed mid-body: h11 raises for that; nothing else occurs
                    raise trio.BrokenResourceError("peer closed while sending the body")
        if body_timer.cancelled_caught:
            raise HTTPError(408, "request body timeout")
        return b"".join(chunks)

    # -- writing a response ----------------------------------------------------------------

    async def _send_complete(self, request: Request, response: Response) -> int:
        """Write a response with a complete body; return its status."""
        status = response.status
        self._context.counters.count_response(status)
        body = response.body
        head = self._head(status, response.header_fields(), len(body))
        if request.method == "HEAD" or status in NO_BODY_STATUSES or not body:
            await self._channel.send_events(head, h11.EndOfMessage())
        else:
            await self._channel.send_events(head, h11.Data(data=body), h11.EndOfMessage())
            self._channel.body_bytes = len(body)
        return status

    async def _send_stream_head(self, request: Request, response: BaseResponse) -> bool:
        """Write a streamed response's head; return whether its body is to be run.

        A body of unknown length is chunked for an HTTP/1.1 client (asked for explicitly,
        so :meth:`write_body` can frame the chunks itself) and delimited by closing for
        HTTP/1.0 (h11 does that).
        """
        status = response.status
        self._context.counters.count_response(status)
        headers = response.header_fields()
        chunked = request.http_version == "1.1" and not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers
        )
        if chunked:
            headers.append((b"transfer-encoding", b"chunked"))
        await self._channel.send_events(self._head(status, headers, None))
        if request.method == "HEAD":
            await self._channel.send_events(h11.EndOfMessage())
            return False
        self._channel.begin_body(chunked=chunked)
        return True

    async def _hand_over(self, request: Request, response: WebSocketResponse) -> None:
        """Give the connection to the WebSocket driver (the handshake was checked)."""
        # h11 read the request and stopped at the protocol switch (MIGHT_SWITCH_PROTOCOL).
        assert self._channel.conn.next_event() is h11.PAUSED
        self._channel.body_bytes = await run_session(
            response,
            request,
            self._channel,
            stream=self._channel.transport.stream,
            head=request_head(request),
            held=self._channel.conn.trailing_data[0],
        )

    def _head(
        self, status: int, headers: list[tuple[bytes, bytes]], length: int | None
    ) -> h11.Response:
        return response_head(status, headers, length, close=self._context.shutting_down)

    # -- errors ----------------------------------------------------------------------------

    async def _send_error(self, status: int, detail: str) -> None:
        """Answer with an error status if we still can, then drain and let the caller close."""
        if self._channel.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        self._context.counters.count_response(status)
        logger.debug("answering %d to %s: %s", status, self._channel.peer, detail)
        events = error_response(status)
        try:
            await self._channel.send_events(*events)
        except (trio.BrokenResourceError, trio.ClosedResourceError, SlowClientError):
            return
        except h11.LocalProtocolError:  # e.g. the peer's request was unparseable as 1.x
            return
        if access_logger.isEnabledFor(logging.INFO):
            size = len(events[1].data)
            access_logger.info('%s - "-" %d %d (%s)', self._channel.peer, status, size, detail)
        await drain_and_close(self._channel.transport.stream)
