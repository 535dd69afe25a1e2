"""Exceptions raised by trio-sse on purpose.

Rules (after h11 and httpcore): everything we raise derives from :class:`TrioSSEError`;
invalid values given *to* us raise :class:`InvalidEventError`, which is also a
:class:`ValueError` and whose message starts with the name of the offending field;
transport problems of a peer are reported as :class:`StreamClosedError`, never as a raw
``trio`` or ``h11`` exception.

Names end in ``Error`` and never repeat a dependency's: trio-websocket and h11 each have a
``ConnectionClosed``, and a WebSocket handler may meet both libraries' exceptions, so ours
is ``StreamClosedError``. The old name ``trio_sse.ConnectionClosed`` is a deprecated alias
of it (deprecated in 0.2.0, removed in 0.3.0).
"""

from __future__ import annotations

__all__ = ["InvalidEventError", "SlowClientError", "StreamClosedError", "TrioSSEError"]


class TrioSSEError(Exception):
    """Base class of every exception trio-sse raises on purpose."""


class InvalidEventError(TrioSSEError, ValueError):
    """A server-sent event field holds a value the event-stream format cannot carry.

    Raised when a :class:`~trio_sse.ServerSentEvent` is constructed, so a bad event never
    reaches the wire. The message names the field, e.g. ``"id: field must not contain
    NUL"``.

    Attributes:
        field: The name of the offending field (``"data"``, ``"event"``, ``"id"``,
            ``"retry"`` or ``"comment"``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class StreamClosedError(TrioSSEError):
    """The peer of an event stream has gone, or the stream was closed.

    Raised by :meth:`trio_sse.EventStream.send` once the stream can no longer deliver
    events. In normal operation a stream's producer task never sees it: it is cancelled
    first, as soon as the disconnect is noticed.

    .. versionadded:: 0.2.0
       Replaces ``trio_sse.ConnectionClosed``, now a deprecated alias of this class.
    """


class SlowClientError(StreamClosedError):
    """The peer did not accept data within the send timeout and was disconnected."""
