"""The HTTP/1.1 side of a connection that responses are written to: h11 plus a transport.

This file is the :class:`~trio_sse._context.ResponseChannel` and
:class:`~trio_sse._context.SessionHost` of an HTTP/1.1 connection: the body driver
(``_body.py``) writes streamed bodies through it, and the WebSocket driver
(``_ws_session.py``) waits on it for shutdown. The request loop (``_connection.py``) uses
it to read requests and to write complete responses. Bytes go through the connection's
:class:`~trio_sse._transport.Transport`; h11 holds the protocol state, and is told of
every send that failed part-way (h11's ``send_failed``), so the framing is never trusted
after one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import h11
import trio

from ._context import Watch
from ._exceptions import SlowClientError, StreamClosedError
from ._transport import WriteLock

if TYPE_CHECKING:
    from ._context import ServerContext
    from ._stats import ServerStatistics
    from ._transport import Transport

__all__ = ["H11Channel"]


class H11Channel:
    """One HTTP/1.1 connection's protocol state and bytes, for the request loop and drivers.

    Attributes:
        conn: The h11 connection (server role).
        transport: The connection's bytes.
        interrupt: The scope of the current long wait (keep-alive idle, a stream's watch,
            a WebSocket session), cancelled by :meth:`begin_shutdown`.
        chunked: Whether the current body is chunked (and framed by :meth:`write_body`).
        body_bytes: Body bytes written for the current response (framing excluded).
        last_write: When the last body write ended.
        pipelined: Bytes received behind the current streamed response.
        client: The peer's ``(host, port)``, or ``None`` when unknown.
    """

    __slots__ = (
        "_context",
        "_counters",
        "_max_pipelined",
        "_write_lock",
        "body_bytes",
        "chunked",
        "client",
        "conn",
        "interrupt",
        "last_write",
        "pipelined",
        "transport",
    )

    def __init__(
        self, context: ServerContext, transport: Transport, client: tuple[str, int] | None
    ) -> None:
        config = context.config
        self._context = context
        self._counters = context.counters
        self.client = client
        self._max_pipelined = config.max_header_bytes
        self._write_lock = WriteLock()
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=config.max_header_bytes)
        self.transport = transport
        self.interrupt: trio.CancelScope | None = None
        self.chunked = False
        self.body_bytes = 0
        self.last_write = 0.0
        self.pipelined = 0

    @property
    def peer(self) -> str:
        """The client's ``host:port`` for log messages (``"-"`` when unknown)."""
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    @property
    def counters(self) -> ServerStatistics:
        """The server's live counters."""
        return self._counters

    def begin_shutdown(self) -> None:
        """Interrupt the current long wait, if any (synchronous)."""
        if self.interrupt is not None:
            self.interrupt.cancel()

    def begin_body(self, *, chunked: bool) -> None:
        """Start a streamed body (its head is written): reset the body's bookkeeping."""
        self.chunked = chunked
        self.body_bytes = 0
        self.pipelined = 0
        self.last_write = trio.current_time()

    async def receive(self, *, idle: bool = False) -> bytes:
        """Read what has arrived and give it to h11; ``b""`` at EOF. *idle*: nothing has
        arrived yet (wait for it before trying to read, see ``Transport.read``)."""
        data = await self.transport.read(idle=idle)
        self.conn.receive_data(data)
        return data

    async def receive_after_turn(self) -> bytes | None:
        """Yield to the other tasks, then give h11 what has arrived; ``None`` if nothing
        has (see ``Transport.read_after_turn``), ``b""`` at EOF."""
        data = await self.transport.read_after_turn()
        if data is not None:
            self.conn.receive_data(data)
        return data

    async def next_event(self) -> h11.Event:
        """h11's next event, reading as much as it needs."""
        conn = self.conn
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                await self.receive()
                continue
            return event  # type: ignore[return-value]

    async def send_events(self, *events: h11.Event) -> None:
        """Serialise *events* with h11 and write them in one piece."""
        conn = self.conn
        # A cancellation here, before anything is serialised or written, leaves the
        # connection intact (e.g. a shutdown during a burst still gets its farewell);
        # ``write`` then has no checkpoint before its first byte.
        await trio.lowlevel.checkpoint_if_cancelled()
        if len(events) == 1:
            data = conn.send(events[0]) or b""
        else:
            data = b"".join([conn.send(ev) or b"" for ev in events])
        await self.write(data)

    async def write(self, data: bytes) -> None:
        """Write through the transport; whatever interrupts it tells h11 the send failed
        (part of the bytes may be on the wire, so the framing is lost)."""
        try:
            await self.transport.write(data)
        except SlowClientError:
            self._counters.slow_clients_dropped += 1
            self.conn.send_failed()
            raise
        except BaseException:
            self.conn.send_failed()
            raise

    # -- the ResponseChannel of a streamed body (see _context.py) -------------------------

    @property
    def idle_since(self) -> float | None:
        """When the last body write ended; ``None`` while one is under way."""
        return None if self._write_lock.held else self.last_write

    async def write_body(self, data: bytes) -> None:
        """Write one piece of a streamed body, flushed; serialised with heartbeats.

        Raises:
            StreamClosedError: the peer is gone or the stream can no longer be written.
            SlowClientError: the write did not complete within ``send_timeout``.
        """
        lock = self._write_lock
        # Hot path (one call per event): take the lock without a checkpoint of its own when
        # it is free (the write below is the checkpoint), and wait only when it is contended.
        if lock.held:
            await lock.acquire()
        else:
            lock.held = True
        try:
            if self.conn.our_state is not h11.SEND_BODY:
                raise StreamClosedError("the stream is closed")
            try:
                if self.chunked:
                    # h11 chose chunked framing (we asked for it in the head); its writer
                    # keeps no state for data, so frame here and save a trip through it.
                    await trio.lowlevel.checkpoint_if_cancelled()  # (see send_events)
                    await self.write(b"%x\r\n%b\r\n" % (len(data), data))
                else:
                    await self.send_events(h11.Data(data=data))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise StreamClosedError("the client disconnected") from exc
            self.last_write = trio.current_time()
            self.body_bytes += len(data)
        finally:
            lock.release()

    async def end_body(self) -> None:
        """Terminate the body (the last chunk), unless a failed write lost the framing."""
        if self.conn.our_state is not h11.SEND_BODY:
            return
        try:
            await self.send_events(h11.EndOfMessage())
        except (trio.BrokenResourceError, trio.ClosedResourceError, SlowClientError):
            pass

    async def watch(self, deadline: float) -> Watch:
        """Read the socket until EOF, a reset, shutdown or *deadline*.

        Pipelined bytes behind a stream are kept for h11's next cycle, up to
        ``max_header_bytes``; more than that counts as a peer to drop.
        """
        if self._context.shutting_down:
            return Watch.SHUTDOWN
        # One scope per wait serves as the deadline and as the shutdown interrupt.
        with trio.CancelScope(deadline=deadline) as timer:
            self.interrupt = timer
            transport = self.transport
            try:
                while True:
                    await transport.wait_readable()  # (no frame of its own while idle)
                    data = await transport.read()
                    if not data:
                        return Watch.PEER_GONE
                    self.pipelined += len(data)
                    if self.pipelined > self._max_pipelined:
                        return Watch.PEER_GONE
                    self.conn.receive_data(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return Watch.PEER_GONE
            finally:
                self.interrupt = None
        # Cancelled before its deadline: only a shutdown does that.
        return Watch.DEADLINE if trio.current_time() >= deadline else Watch.SHUTDOWN

    # -- the SessionHost of a WebSocket session (see _context.py) --------------------------

    async def wait_shutdown(self) -> None:
        """Return when the server begins to shut down."""
        with trio.CancelScope() as interrupt:
            self.interrupt = interrupt
            if self._context.shutting_down:
                interrupt.cancel()
            try:
                await trio.sleep_forever()
            finally:
                self.interrupt = None
