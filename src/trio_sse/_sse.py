"""Event-stream (SSE) responses: the response type and the handle its producer writes to.

This file does no I/O of its own. The encoding lives in ``_events.py`` (pure); running a
stream (the producer task, the socket watch, heartbeats, the farewell) in ``_body.py``.
:class:`EventStreamResponse` is plain data; :class:`EventStream` writes through the
:class:`~trio_sse._context.ResponseChannel` it is given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, final

import trio

from ._config import USE_CONFIG, UseConfig
from ._events import ServerSentEvent, encode_comment
from ._response import BaseResponse, header_items

if TYPE_CHECKING:
    from ._context import ResponseChannel
    from ._headers import HeadersLike
    from ._request import Request

__all__ = ["EVENT_STREAM_CONTENT_TYPE", "EventStream", "EventStreamResponse", "Producer"]

EVENT_STREAM_CONTENT_TYPE: Final = "text/event-stream; charset=utf-8"

Producer = Callable[["EventStream"], Awaitable[None]]
"""An event-stream producer: an async function that writes events to an :class:`EventStream`."""


@final
class EventStream:
    """The writing end of one client's event stream, given to the producer.

    The producer runs as a child task of the connection: when the client disconnects it is
    cancelled at once, so it needs no disconnect check of its own. The server creates it;
    handlers never do.

    Attributes:
        request: The request that opened the stream.
        last_event_id: The client's ``Last-Event-ID`` header (``None`` on a first
            connection), for resuming after a reconnect.
        opened_at: When the response head was written (``trio.current_time()``): the
            moment the client sees the stream open. Schedule periodic events from here
            (``opened_at + n * interval``) rather than from when the producer first runs,
            which under load can be a scheduler batch later.
    """

    __slots__ = ("_channel", "last_event_id", "opened_at", "request")

    def __init__(self, channel: ResponseChannel, request: Request) -> None:
        self._channel = channel
        self.request = request
        self.last_event_id = request.last_event_id
        self.opened_at = trio.current_time()

    async def send(self, event: ServerSentEvent | bytes) -> None:
        """Encode *event* and write it to the client, flushed.

        Args:
            event: A :class:`ServerSentEvent`, or the bytes of events encoded already
                (a broadcaster encodes each event once for all its subscribers).

        Raises:
            StreamClosedError: The client is gone (normally the producer is cancelled
                first).
            SlowClientError: The client did not read within ``send_timeout``.
        """
        data = event.encode() if isinstance(event, ServerSentEvent) else event
        channel = self._channel
        await channel.write_body(data)
        counters = channel.counters
        counters.events_sent += 1
        counters.bytes_sent += len(data)

    async def send_comment(self, text: str = "") -> None:
        """Write a comment block (ignored by clients; keeps intermediaries awake)."""
        await self.send(encode_comment(text))


class EventStreamResponse(BaseResponse):
    """A ``text/event-stream`` response fed by a producer task.

    The response is ``200`` with ``Content-Type: text/event-stream; charset=utf-8``,
    ``Cache-Control: no-cache`` and ``X-Accel-Buffering: no``, and no
    ``Content-Length``: chunked on HTTP/1.1, delimited by closing on HTTP/1.0. Each event is
    flushed as it is sent. After the headers, the server starts *producer* as a child task
    of the connection and watches the socket; the moment the client goes away the producer
    is cancelled. When the producer returns, the stream ends.

    Args:
        producer: ``async def producer(stream: EventStream) -> None``.
        headers: Extra header fields (``Content-Type`` and ``Cache-Control`` may be
            overridden here).
        retry: A reconnection time in milliseconds sent first, as a ``retry:`` field, or
            ``None``.
        heartbeat: Seconds of idleness after which a comment is written; ``None`` turns
            heartbeats off; by default :attr:`Config.heartbeat_interval
            <trio_sse.Config.heartbeat_interval>`.
        farewell: An event written when the server shuts down, before the stream ends
            (for example a ``retry`` hint so clients wait before reconnecting).
    """

    __slots__ = ("farewell", "heartbeat", "producer", "retry")

    def __init__(
        self,
        producer: Producer,
        *,
        headers: HeadersLike | None = None,
        retry: int | None = None,
        heartbeat: float | UseConfig | None = USE_CONFIG,
        farewell: ServerSentEvent | None = None,
    ) -> None:
        if not callable(producer):
            raise TypeError(f"producer: must be an async function, not {producer!r}")
        if retry is not None:
            ServerSentEvent(retry=retry)  # validates: non-negative int
        if not isinstance(heartbeat, UseConfig) and heartbeat is not None and heartbeat <= 0:
            raise ValueError(f"heartbeat: must be positive or None, got {heartbeat!r}")
        defaults = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
        extra = header_items(headers)
        names = {n.lower() for n, _ in extra}
        merged = [(k, v) for k, v in defaults if k.lower() not in names] + extra
        super().__init__(status=200, headers=merged, content_type=EVENT_STREAM_CONTENT_TYPE)
        self.producer = producer
        self.retry = retry
        self.heartbeat = heartbeat
        self.farewell = farewell

    def __repr__(self) -> str:
        return f"<EventStreamResponse {self.producer!r}>"
