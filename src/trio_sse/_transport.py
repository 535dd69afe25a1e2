"""Byte I/O below Trio's streams: the one module allowed to go under ``trio.abc.Stream``.

Rules of this file (as h11's ``_state.py`` states its own):

1. **Everything that reads or writes a connection's bytes lives here**: the raw
   file-descriptor fast path and its ``trio.abc.Stream`` fallback, the write lock of a
   streamed body, the yield policy, draining before close, and draining a listener's
   backlog. No other module calls ``os.read``/``os.write``/``accept`` or
   ``trio.lowlevel.wait_readable``/``wait_writable``.
2. **It knows no protocol.** Bytes in, bytes out: framing (h11, chunked coding, h2) and
   counters belong to the callers.
3. **Trio's checkpoint contract holds for every public coroutine**: each is a
   cancellation point before it does anything, and a schedule point whenever it blocks and
   at least every ``YIELD_EVERY`` calls that did not (see :meth:`Transport.write`).
4. **A write is either not begun or complete** as far as cancellation goes: a
   cancellation is taken only before the first byte; afterwards only the send timeout or a
   failure interrupts it, and the caller must then treat the framing as lost.

Why go below Trio's streams at all: on a socket, Trio's ``send_all`` adds a conflict
detector, an async context manager, a cancel scope for the timeout and a trip through the
scheduler to every write (15.5 µs against 1.6 µs for one ``write()`` on the benchmark
machine), and every streamed event is one write. Any other stream (TLS, memory streams)
goes through ``receive_some``/``send_all`` with the same semantics.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import TYPE_CHECKING, Final

import trio

from ._exceptions import SlowClientError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterator

__all__ = [
    "ACCEPT_BATCH",
    "DRAIN_MAX_BYTES",
    "DRAIN_TIMEOUT",
    "RECEIVE_SIZE",
    "YIELD_EVERY",
    "Transport",
    "WriteLock",
    "accept_backlog",
    "backlog_socket",
    "drain_and_close",
]

RECEIVE_SIZE: Final = 16 * 1024
#: How long we keep reading (and discarding) after an error response before closing, so
#: the client sees our answer instead of a reset.
DRAIN_TIMEOUT: Final = 1.0
DRAIN_MAX_BYTES: Final = 256 * 1024
#: A read or write that completes without blocking is a schedule point every this many
#: in a row. Yielding on every write would cost a full trip through Trio's scheduler per
#: event, for a fairness that the producer's own waits (its sleep, its queue) already give.
YIELD_EVERY: Final = 16
#: Connections accepted at once, after each one ``listener.accept()`` returns.
ACCEPT_BATCH: Final = 64

_RAW: Final = os.name == "posix"

#: accept() errors about one connection only (the ones trio's SocketListener skips).
_IGNORABLE_ACCEPT_ERRNOS: Final = frozenset(
    getattr(errno, name)
    for name in (
        "EPERM",
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
        "ENOSR",
        "ESOCKTNOSUPPORT",
        "EPROTONOSUPPORT",
        "ETIMEDOUT",
        "ECONNRESET",
    )
    if hasattr(errno, name)
)


class Transport:
    """A connection's bytes: ``read`` and ``write`` over a socket's fd, or over a stream.

    Args:
        stream: The connection's stream. A ``trio.SocketStream`` (on POSIX) is read and
            written through its file descriptor; anything else through the stream API.
        send_timeout: How long a write may wait once the peer stops reading.
    """

    __slots__ = ("_fd", "_unyielded", "send_timeout", "stream")

    def __init__(self, stream: trio.abc.Stream, send_timeout: float) -> None:
        self.stream = stream
        self.send_timeout = send_timeout
        self._fd = stream.socket.fileno() if _RAW and isinstance(stream, trio.SocketStream) else -1
        self._unyielded = 0

    @property
    def raw(self) -> bool:
        """Whether reads and writes go straight to a file descriptor."""
        return self._fd >= 0

    def _time_to_yield(self) -> bool:
        """Count a read or write that completed without waiting; True every YIELD_EVERY."""
        self._unyielded += 1
        if self._unyielded < YIELD_EVERY:
            return False
        self._unyielded = 0
        return True

    async def read(self, *, idle: bool = False) -> bytes:
        """Read what has arrived (up to ``RECEIVE_SIZE`` bytes); ``b""`` at EOF.

        The one read loop of the server: the request loop and a streamed body's watch
        both call it. *idle* says nothing is expected soon (a stream's watch; a keep-alive
        connection whose next request :meth:`read_after_turn` did not find): wait for the
        socket to become readable before the first attempt instead of after it.

        Raises:
            trio.BrokenResourceError: the connection was reset (or the socket closed).
        """
        fd = self._fd
        if fd < 0:
            return bytes(await self.stream.receive_some(RECEIVE_SIZE))
        await trio.lowlevel.checkpoint_if_cancelled()
        waited = idle
        while True:
            if waited:
                # Outside any ``except`` block: a wait of hours must not keep an
                # exception (and its traceback) alive.
                await trio.lowlevel.wait_readable(fd)
            try:
                data = os.read(fd, RECEIVE_SIZE)
                break
            except BlockingIOError:
                waited = True
            except OSError as exc:
                raise trio.BrokenResourceError(f"socket read failed: {exc}") from exc
        if waited:
            self._unyielded = 0
        elif self._time_to_yield():
            await trio.lowlevel.cancel_shielded_checkpoint()
        return data

    def wait_readable(self) -> Awaitable[None]:
        """Wait until :meth:`read` would find something (or EOF); then call it.

        For a streamed body's watch, which waits for hours: this is a plain function that
        returns Trio's awaitable, so the waiting task's stack holds no frame of its own for
        it (one frame fewer on every open stream's). Always ``await`` it at once. A stream
        other than a socket gets only a cancellation point: its ``read`` does the wait.

        Raises:
            trio.BrokenResourceError: the socket was closed.
        """
        fd = self._fd
        if fd < 0:
            return trio.lowlevel.checkpoint_if_cancelled()  # noqa: ASYNC105 (awaited by caller)
        self._unyielded = 0  # (the wait is a schedule point)
        return trio.lowlevel.wait_readable(fd)  # noqa: ASYNC105 (awaited by the caller)

    async def read_after_turn(self) -> bytes | None:
        """Yield to the other tasks, then read what has arrived without waiting for more;
        ``None`` when nothing has (the caller then waits with :meth:`read`), ``b""`` at EOF.

        For the next request on a keep-alive connection: one schedule point per request,
        before its read, so a client that answers at once cannot keep the loop to itself
        (up to ``YIELD_EVERY`` requests in a row, a tail latency of several scheduler
        batches for every other connection), and the turn gives the client time to send:
        the read then usually finds the request and no wait is registered with the kernel.
        A stream other than a socket gets only the cancellation point.

        Raises:
            trio.BrokenResourceError: the connection was reset (or the socket closed).
        """
        if self._fd < 0:
            await trio.lowlevel.checkpoint_if_cancelled()
            return None
        await trio.lowlevel.checkpoint()
        self._unyielded = 0
        return self.read_nowait()

    def read_nowait(self) -> bytes | None:
        """What has arrived, without waiting: ``None`` when nothing has (and always for a
        stream other than a socket), ``b""`` at EOF. Not a checkpoint.

        Raises:
            trio.BrokenResourceError: the connection was reset (or the socket closed).
        """
        fd = self._fd
        if fd < 0:
            return None
        try:
            return os.read(fd, RECEIVE_SIZE)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise trio.BrokenResourceError(f"socket read failed: {exc}") from exc

    async def write(self, data: bytes) -> None:
        """Write *data* completely, waiting at most ``send_timeout`` once the peer is full.

        On a socket this is one ``write()`` system call in the common case. The caller
        checks for cancellation before calling (rule 4: nothing interrupts a write once
        its first byte may be out, except the timeout and failures); a write that
        completes is a schedule point every ``YIELD_EVERY`` calls, and only a write that
        would block waits, with ``trio.lowlevel.wait_writable``.

        Raises:
            trio.BrokenResourceError: the peer is gone (or the socket is closed).
            SlowClientError: the peer did not read within ``send_timeout``.
        """
        fd = self._fd
        if fd < 0:
            with trio.move_on_after(self.send_timeout) as timer:
                await self.stream.send_all(data)
            if timer.cancelled_caught:
                raise SlowClientError("the client did not read within send_timeout")
            return
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
        with trio.move_on_after(self.send_timeout) as timer:
            while view:
                await trio.lowlevel.wait_writable(fd)
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise trio.BrokenResourceError(f"socket write failed: {exc}") from exc
        if timer.cancelled_caught:
            raise SlowClientError("the client did not read within send_timeout")

    async def send_all(self, data: bytes) -> None:
        """:meth:`write` with its cancellation point first (for callers without one)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        await self.write(data)


class WriteLock:
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
        """Take the lock; a checkpoint only when it has to wait."""
        if not self.held:
            self.held = True
            return
        if self._lot is None:
            self._lot = trio.lowlevel.ParkingLot()
        await self._lot.park()  # returns owning the lock: ``release`` handed it over

    def release(self) -> None:
        """Hand the lock to the first waiter, or free it."""
        if self._lot:
            self._lot.unpark()
        else:
            self.held = False


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


def backlog_socket(listener: trio.abc.Listener[trio.abc.Stream]) -> socket.socket | None:
    """A non-blocking duplicate of a socket listener's socket, to drain its backlog."""
    if not isinstance(listener, trio.SocketListener) or not _RAW:
        return None
    sock = listener.socket
    try:
        dup = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
    except OSError:  # pragma: no cover - out of file descriptors: accept one at a time
        return None
    dup.setblocking(False)
    return dup


def accept_backlog(backlog: socket.socket) -> Iterator[trio.SocketStream]:
    """Accept what else is queued (up to ``ACCEPT_BATCH``), without a checkpoint between.

    ``listener.accept()`` takes one connection per trip through Trio's scheduler, so
    behind a burst of connects a newcomer waited for hundreds of scheduler batches before
    being accepted. Errors end the drain; the next ``accept()`` reports them.
    """
    for _ in range(ACCEPT_BATCH):
        try:
            sock, _ = backlog.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno in _IGNORABLE_ACCEPT_ERRNOS:
                continue
            return
        yield trio.SocketStream(trio.socket.from_stdlib_socket(sock))
