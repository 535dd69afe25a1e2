"""The HTTP/2 pieces a request stream writes through: the shared link and the stream.

* :class:`H2Link`: one HTTP/2 connection's protocol state (an ``h2`` connection, server
  side) and bytes (its :class:`~trio_sse._transport.Transport`). Every frame of every
  stream goes out through :meth:`H2Link.flush`: h2's state changes are synchronous, so
  whoever flushes writes everything queued so far, in order. One flush writes at a time;
  the others wait for its next round, which writes their frames with it. A write is
  shielded from the cancellation of the stream that started it (a half-written frame
  would break every stream of the connection); ``send_timeout`` bounds it, and a failed
  write ends the whole connection.
* :class:`H2Stream`: one request stream: the request as it arrives (headers, body), and
  the :class:`~trio_sse._context.ResponseChannel` its response is written through. DATA
  is split by the peer's maximum frame size and flow-control windows; a stream whose
  window stays shut for ``send_timeout`` is reset and counted as a slow client.

This file knows no application: the connection (``_h2_connection.py``) runs the reader loop
and one task per stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import h2.connection
import h2.errors
import h2.exceptions
import trio
from hyperframe.frame import GoAwayFrame

from ._context import Watch
from ._exceptions import SlowClientError, StreamClosedError
from ._h2_wire import request_head, response_head
from ._http11 import NO_BODY_STATUSES
from ._timer import Alarm
from ._transport import WriteLock

if TYPE_CHECKING:
    from ._context import ServerContext
    from ._response import Response
    from ._stats import ServerStatistics
    from ._transport import Transport

__all__ = ["H2Link", "H2Stream"]


class H2Link:
    """One HTTP/2 connection's h2 state and bytes, shared by its streams.

    Attributes:
        conn: The h2 connection (server side).
        transport: The connection's bytes.
        closing: Whether the server's ``GOAWAY`` was queued (shutdown): open streams
            write their farewell and end, new streams are refused.
        broken: Whether a write failed (the connection is being torn down).
    """

    __slots__ = (
        "_context",
        "_extra",
        "_on_broken",
        "_queued",
        "_round",
        "_writing",
        "_written",
        "broken",
        "client",
        "closing",
        "conn",
        "counters",
        "transport",
    )

    def __init__(
        self,
        context: ServerContext,
        conn: h2.connection.H2Connection,
        transport: Transport,
        client: tuple[str, int] | None,
        on_broken: trio.CancelScope,
    ) -> None:
        self._context = context
        self.counters = context.counters
        self.conn = conn
        self.transport = transport
        self.client = client
        self._extra = b""
        self._writing = False  # a flush is writing (see :meth:`flush`)
        self._queued = 0  # flushes asked for
        self._written = 0  # flushes whose frames are written
        self._round: trio.Event | None = None  # set when the writer's round ends
        self._on_broken = on_broken
        self.closing = False
        self.broken = False

    @property
    def peer(self) -> str:
        """The client's ``host:port`` for log messages (``"-"`` when unknown)."""
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    @property
    def shutting_down(self) -> bool:
        """Whether open streams should say farewell and end."""
        return self.closing or self._context.shutting_down

    @property
    def config_send_timeout(self) -> float:
        """How long a stream may wait for its flow-control window."""
        return self.transport.send_timeout

    def queue_goaway(self) -> None:
        """Queue a graceful ``GOAWAY(NO_ERROR)`` naming the last stream we will serve.

        Written by hand rather than with ``h2``'s ``close_connection``, after which h2
        would refuse to send the open streams' farewells (its connection is then closed).
        """
        frame = GoAwayFrame(0)
        frame.last_stream_id = self.conn.highest_inbound_stream_id
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        self._extra += frame.serialize()
        self.closing = True

    async def flush(self) -> None:
        """Write what h2 has queued (all streams' frames, in order); return once the
        caller's frames (queued before the call) are written.

        One task writes at a time, the *writer*: a flush that finds one at work does not
        take a turn of its own but waits for the writer's next round, which writes its
        frames together with every other stream's queued meanwhile. A thousand streams
        writing at once then cost a few writes and wake-ups, not a scheduler pass each.

        Raises:
            StreamClosedError: the connection is broken (the peer is gone or too slow).
        """
        if self.broken:
            raise StreamClosedError("the connection is closed")
        self._queued += 1
        if self._writing:
            ticket = self._queued
            while self._written < ticket and not self.broken:
                if self._round is None:
                    self._round = trio.Event()
                await self._round.wait()
            if self._written < ticket:
                raise StreamClosedError("the connection is closed")
            return
        self._writing = True
        try:
            while self._written < self._queued:
                target = self._queued
                data = self.conn.data_to_send()
                if self._extra:
                    data += self._extra
                    self._extra = b""
                if data:
                    with trio.CancelScope(shield=True):  # see the module docstring
                        await self.transport.write(data)
                self._written = target
                self._end_round()
        except SlowClientError as exc:
            self.counters.slow_clients_dropped += 1
            self._break()
            raise StreamClosedError("the client did not read within send_timeout") from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._break()
            raise StreamClosedError("the client disconnected") from exc
        finally:
            self._writing = False
            self._end_round()  # (the waiters of a round that failed see ``broken``)

    def _end_round(self) -> None:
        if self._round is not None:
            self._round.set()
            self._round = None

    def _break(self) -> None:
        self.broken = True
        self._on_broken.cancel()


class H2Stream:
    """One request stream: its request as it arrives, and its response channel.

    Attributes:
        stream_id: The HTTP/2 stream id.
        body: The request body received so far.
        body_size: Bytes of body received (also those dropped over the limit).
        complete: Whether the request has been received completely (END_STREAM).
        scope: The cancel scope of the stream's task (a reset cancels it).
        gone: Whether the peer reset the stream (or the connection is gone).
        ended: Whether our side of the stream is closed (END_STREAM or RST_STREAM sent).
        faulted: Whether the server reset the stream for the client's fault (a request
            answered before its end, a window shut for ``send_timeout``): the reset
            costs the connection's reset budget when the stream's task ends.
        body_bytes: Response body bytes written (for the access log).
    """

    __slots__ = (
        "_alarm",
        "_done",
        "_headers",
        "_link",
        "_lock",
        "_window",
        "body",
        "body_bytes",
        "body_size",
        "complete",
        "ended",
        "faulted",
        "gone",
        "last_write",
        "scope",
        "stream_id",
    )

    def __init__(
        self,
        link: H2Link,
        stream_id: int,
        headers: list[tuple[bytes, bytes]],
        *,
        complete: bool = False,
    ) -> None:
        self._link = link
        self.stream_id = stream_id
        self._headers = headers
        self.body: list[bytes] = []
        self.body_size = 0
        self.complete = complete
        self._done: trio.Event | None = None  # only while a task waits for the body
        self.scope = trio.CancelScope()
        self.gone = False
        self.ended = False
        self.faulted = False
        self.body_bytes = 0
        self.last_write = trio.current_time()
        self._lock = WriteLock()
        self._window: trio.Event | None = None
        self._alarm = Alarm()  # the watch's sleep

    # -- the request -------------------------------------------------------------------------

    def request_head(self, max_header_bytes: int) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
        """``(method, target, fields)`` of the request (``_h2_wire.request_head``), once:
        the raw header block is dropped, so an open stream does not keep it."""
        headers, self._headers = self._headers, []
        return request_head(headers, max_header_bytes)

    async def wait_request(self) -> None:
        """Return when the request has been received completely (no checkpoint if so)."""
        if not self.complete:
            self._done = done = trio.Event()
            try:
                await done.wait()
            finally:
                self._done = None

    # -- events from the reader loop (synchronous) -----------------------------------------

    def request_ended(self) -> None:
        """The request is complete (END_STREAM), or its body is over the limit."""
        self.complete = True
        if self._done is not None:
            self._done.set()

    def window_opened(self) -> None:
        """The peer raised a window (this stream's, the connection's or the initial)."""
        if self._window is not None:
            self._window.set()

    def peer_gone(self) -> None:
        """The peer reset the stream, or the connection is gone: stop it at once.

        A streamed body in progress sees :attr:`Watch.PEER_GONE` (so the body driver
        counts the disconnect and cancels its producer); anything else is cancelled.
        """
        self.gone = True
        self.ended = True
        self.window_opened()
        if self._alarm.sleeping:
            self._alarm.ring()
        else:
            self.scope.cancel()

    def begin_shutdown(self) -> None:
        """Interrupt a streamed body's watch, so it writes its farewell and ends."""
        self._alarm.ring()

    # -- writing (the stream's task) --------------------------------------------------------

    async def send_headers(self, headers: list[tuple[bytes, bytes]], *, end: bool) -> None:
        """Send the response head (*end*: and end the stream)."""
        if self.gone or self._link.broken:
            raise StreamClosedError("the stream was reset")
        try:
            self._link.conn.send_headers(self.stream_id, headers, end_stream=end)
        except h2.exceptions.ProtocolError as exc:  # e.g. after an error GOAWAY
            raise StreamClosedError("the stream is closed") from exc
        self.ended = end
        await self._link.flush()

    async def send_response(self, method: str, response: Response) -> int:
        """Send a complete response (no body for ``HEAD``); return its status."""
        status = response.status
        self.counters.count_response(status)
        body = response.body
        fields = response_head(status, response.header_fields(), len(body))
        if method == "HEAD" or status in NO_BODY_STATUSES or not body:
            await self.send_headers(fields, end=True)
        else:
            await self.send_headers(fields, end=False)
            await self.send_data(body, end=True)
            self.body_bytes = len(body)
        return status

    async def send_data(self, data: bytes, *, end: bool) -> None:
        """Send *data* as DATA frames within the windows (*end*: and end the stream).

        Raises:
            StreamClosedError: the stream was reset or the connection is gone.
            SlowClientError: the window stayed shut for ``send_timeout`` (the stream is
                reset).
        """
        link = self._link
        conn = link.conn
        sid = self.stream_id
        while True:
            if self.gone or self.ended or link.broken:
                raise StreamClosedError("the stream is closed")
            try:
                if not data:
                    if end:
                        conn.end_stream(sid)
                        self.ended = True
                        await link.flush()
                    return
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window > 0:
                    chunk, data = data[:window], data[window:]
                    conn.send_data(sid, chunk, end_stream=end and not data)
                    if end and not data:
                        self.ended = True
            except h2.exceptions.ProtocolError as exc:  # the stream or connection closed
                raise StreamClosedError("the stream is closed") from exc
            if window <= 0:
                await self._wait_window()
                continue
            await link.flush()
            if not data:
                return

    async def _wait_window(self) -> None:
        self._window = event = trio.Event()
        with trio.move_on_after(self._link.config_send_timeout) as timer:
            await event.wait()
        self._window = None
        if timer.cancelled_caught:
            self._link.counters.slow_clients_dropped += 1
            self.faulted = self.reset(h2.errors.ErrorCodes.CANCEL)
            await self._link.flush()
            raise SlowClientError("the client's flow-control window stayed shut")

    def reset(self, code: h2.errors.ErrorCodes = h2.errors.ErrorCodes.CANCEL) -> bool:
        """Reset the stream from our side (queued; the next flush writes it).

        Returns:
            Whether a ``RST_STREAM`` was queued (not when the stream is closed already).
        """
        if self.ended and self.gone:
            return False
        self.ended = True
        try:
            self._link.conn.reset_stream(self.stream_id, code)
        except h2.exceptions.ProtocolError:  # closed already, or the whole connection
            return False
        return True

    # -- the ResponseChannel of a streamed body (see _context.py) ---------------------------

    @property
    def counters(self) -> ServerStatistics:
        """The server's live counters."""
        return self._link.counters

    @property
    def peer(self) -> str:
        """The client's ``host:port`` for log messages."""
        return self._link.peer

    @property
    def idle_since(self) -> float | None:
        """When the last body write ended; ``None`` while one is under way."""
        return None if self._lock.held else self.last_write

    async def write_body(self, data: bytes) -> None:
        """Write one piece of the body, flushed; serialised with heartbeats and farewell."""
        await trio.lowlevel.checkpoint_if_cancelled()
        lock = self._lock
        await lock.acquire()
        try:
            await self.send_data(data, end=False)
            self.last_write = trio.current_time()
            self.body_bytes += len(data)
        finally:
            lock.release()

    async def end_body(self) -> None:
        """End the stream (END_STREAM). Never raises."""
        if self.ended:
            return
        try:
            await self.send_data(b"", end=True)
        except StreamClosedError:
            pass

    async def watch(self, deadline: float) -> Watch:
        """Wait until the peer resets the stream, shutdown, or *deadline*."""
        if self.gone:
            return Watch.PEER_GONE
        if self._link.shutting_down:
            return Watch.SHUTDOWN
        # No task of its own and no cancel scope: the sleep is ended by the reader loop
        # (a reset: ``peer_gone``) or the server (``begin_shutdown``); the deadline is the
        # heartbeat's.
        await self._alarm.sleep_until(deadline)
        return self._woken(deadline)

    def _woken(self, deadline: float) -> Watch:
        """Why :meth:`watch`'s wait ended: a reset, the deadline, else shutdown."""
        if self.gone:
            return Watch.PEER_GONE
        return Watch.DEADLINE if trio.current_time() >= deadline else Watch.SHUTDOWN
