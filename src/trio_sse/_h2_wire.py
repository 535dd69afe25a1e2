"""HTTP/2 pieces that do no I/O: the preface, guards, budgets and timers, header blocks.

The connection (``_h2_connection.py``) uses them: :class:`ServerH2Connection` is h2's
connection with the stream limit left to us, :class:`FrameSizeGuard` and :class:`Budget`
bound what a peer can make us buffer or do, :class:`PingTimer` says when to ``PING`` a
silent peer and when to give up on it, and the functions convert header blocks between
h2 and the server's requests and responses.
"""

from __future__ import annotations

import math
from typing import Final

import h2.connection
import h2.events
import trio

from ._http11 import NO_BODY_STATUSES, HTTPError, http_date

__all__ = [
    "CONNECTION_SPECIFIC",
    "PREFACE",
    "Budget",
    "FrameSizeGuard",
    "PingTimer",
    "ServerH2Connection",
    "bytes_headers",
    "request_head",
    "response_head",
]

#: The client connection preface of HTTP/2 (RFC 9113 §3.4).
PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

#: Response header fields that are meaningless in HTTP/2 and must not be sent
#: (RFC 9113 §8.2.2).
CONNECTION_SPECIFIC: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te"}
)


class FrameSizeGuard:
    """Checks each frame's declared length as its header arrives, and notes the stream of
    each ``DATA`` and ``HEADERS`` frame.

    h2 checks a frame's length against ``SETTINGS_MAX_FRAME_SIZE`` only once the whole
    frame is buffered, so a peer declaring 16 MiB frames could make it buffer that much
    per connection; this walks the frame headers of the byte stream first.

    :attr:`stream_frames` lists ``(type, stream id)`` of the ``DATA`` (0) and ``HEADERS``
    (1) frames whose header the last :meth:`check` saw: h2 answers one on a stream that
    was reset with ``RST_STREAM(STREAM_CLOSED)`` and no event, so the connection counts
    those resets from here.
    """

    __slots__ = ("_head", "_skip", "stream_frames")

    def __init__(self) -> None:
        self._skip = len(PREFACE)  # bytes to pass over before the next frame header
        self._head = b""
        self.stream_frames: list[tuple[int, int]] = []

    def check(self, data: bytes, limit: int) -> bool:
        """Walk *data*; ``False`` when a frame declares more than *limit* bytes."""
        i, n = 0, len(data)
        frames = self.stream_frames
        frames.clear()
        while i < n:
            if self._skip:
                step = min(self._skip, n - i)
                self._skip -= step
                i += step
                continue
            take = data[i : i + 9 - len(self._head)]
            self._head += take
            i += len(take)
            if len(self._head) == 9:
                head = self._head
                length = int.from_bytes(head[:3], "big")
                if length > limit:
                    return False
                if head[3] <= 1:  # DATA or HEADERS
                    frames.append((head[3], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF))
                self._skip = length
                self._head = b""
        return True


class Budget:
    """At most *limit* occurrences per second (a fixed one-second window)."""

    __slots__ = ("_ends", "_limit", "_used")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._ends = -1.0

    def spend(self) -> bool:
        """Count one occurrence; ``True`` when the budget is exceeded."""
        now = trio.current_time()
        if now >= self._ends:
            self._ends = now + 1.0
            self._used = 0
        self._used += 1
        return self._used > self._limit


class PingTimer:
    """When to ``PING`` a silent peer, and whether its ``ACK`` is overdue.

    While streams are open, the connection waits for the peer's bytes until
    :meth:`deadline`; when that passes, :meth:`expired` gives the data of a ``PING`` to
    send, whose ``ACK`` is then due *timeout* seconds later (other bytes do not excuse
    it), or ``None``: the ``ACK`` is overdue and the peer is gone.

    Args:
        interval: Silence before a ``PING`` (``None``: never).
        timeout: Time the peer has to acknowledge it.
    """

    __slots__ = ("_ack_due", "_interval", "_sent", "_timeout")

    def __init__(self, interval: float | None, timeout: float) -> None:
        self._interval = math.inf if interval is None else interval
        self._timeout = timeout
        self._sent = 0
        self._ack_due: float | None = None

    def deadline(self, now: float) -> float:
        """The end of a wait for the peer's bytes that starts *now*."""
        return now + self._interval if self._ack_due is None else self._ack_due

    def expired(self, now: float) -> bytes | None:
        """The deadline passed: a ``PING``'s opaque data, or ``None`` if one is unanswered."""
        if self._ack_due is not None:
            return None
        self._sent += 1
        self._ack_due = now + self._timeout
        return self._sent.to_bytes(8, "big")

    def acked(self, data: bytes) -> None:
        """The peer acknowledged a ``PING`` with *data* (ours only if it is the last one)."""
        if data == self._sent.to_bytes(8, "big"):
            self._ack_due = None


class ServerH2Connection(h2.connection.H2Connection):
    """h2's connection, leaving ``SETTINGS_MAX_CONCURRENT_STREAMS`` to us.

    h2 treats a stream beyond the limit as a connection error; we refuse that stream
    alone (``REFUSED_STREAM``, RFC 9113 §5.1.2), and count by our own streams' tasks.
    """

    @property
    def open_inbound_streams(self) -> int:
        """Always 0 for h2's own check (the count still prunes h2's closed streams)."""
        h2.connection.H2Connection.open_inbound_streams.fget(self)  # type: ignore[attr-defined]
        return 0


def request_head(
    headers: list[tuple[bytes, bytes]], max_header_bytes: int
) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """``(method, target, fields)`` of a request's header block: the pseudo-header
    fields taken out, ``cookie`` fields joined, ``host`` from ``:authority``.

    Raises:
        HTTPError: ``431`` over *max_header_bytes*, ``501`` without ``:method`` and
            ``:path`` (``CONNECT``).
    """
    method = target = authority = b""
    fields: list[tuple[bytes, bytes]] = []
    cookies: list[bytes] = []
    size = 0
    for name, value in headers:
        size += len(name) + len(value) + 4
        if name[:1] == b":":
            if name == b":method":
                method = value
            elif name == b":path":
                target = value
            elif name == b":authority":
                authority = value
        elif name == b"cookie":  # split into several fields by HPACK (RFC 9113 §8.2.3)
            cookies.append(value)
        else:
            fields.append((name, value))
    if size > max_header_bytes:
        raise HTTPError(431, "request head too large")
    if not method or not target:  # e.g. CONNECT
        raise HTTPError(501, "method not supported over HTTP/2")
    if cookies:
        fields.append((b"cookie", b"; ".join(cookies)))
    if authority and not any(name == b"host" for name, _ in fields):
        fields.insert(0, (b"host", authority))
    return method, target, fields


def response_head(
    status: int, fields: list[tuple[bytes, bytes]], length: int | None
) -> list[tuple[bytes, bytes]]:
    """An HTTP/2 response header block: ``:status``, the fields (lowercase names, no
    connection-specific ones), ``date`` and, when known, ``content-length``."""
    head = [(b":status", b"%d" % status)]
    for name, value in fields:
        lower = name.lower()
        if lower not in CONNECTION_SPECIFIC:
            head.append((lower, value))
    head.append((b"date", http_date()))
    if length is not None and status not in NO_BODY_STATUSES:
        head.append((b"content-length", b"%d" % length))
    return head


def bytes_headers(event: h2.events.RequestReceived) -> list[tuple[bytes, bytes]]:
    """The request's header block (h2 decodes nothing: ``header_encoding=None``)."""
    return [(bytes(n), bytes(v)) for n, v in event.headers]
