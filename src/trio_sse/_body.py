"""The body driver: runs streamed and event-stream bodies over a ResponseChannel.

Theory of operation
-------------------
A streamed body (:class:`~trio_sse.StreamingResponse`, :class:`~trio_sse.EventStreamResponse`)
is written by a *producer*: the application's iterator, or its event-stream function
(the "ticker" of the demo). :func:`run_body` runs it as a child task of a nursery opened in
the connection's (or, over HTTP/2, the stream's) own task, and meanwhile waits on the
channel's :meth:`~trio_sse._context.ResponseChannel.watch`:

* the peer leaves (EOF, a reset, a failed write): the nursery is cancelled and the producer
  stops at once, by structure; no flag is polled at the next tick;
* the producer returns (or fails): it cancels the nursery from its side, and the body ends
  (properly terminated, or, after a failure, aborted so the client sees an incomplete body);
* the deadline passes with nothing written: an idle heartbeat is written;
* the server shuts down: the producer is cancelled, the farewell event is written, and the
  body ends.

The channel is an interface (``_context.py``): this module touches no socket and knows
no HTTP version. The setup of each kind of body is a plain function returning a
:class:`Body`, so the task that runs a stream holds no frame but :func:`run_body`'s.
"""

from __future__ import annotations

import logging
import math
import types
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Final, NamedTuple

import trio

from ._config import UseConfig
from ._context import Watch
from ._events import ServerSentEvent
from ._exceptions import StreamClosedError
from ._sse import EventStream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._config import Config
    from ._context import ResponseChannel
    from ._request import Request
    from ._response import StreamingResponse
    from ._sse import EventStreamResponse

__all__ = ["HEARTBEAT", "Body", "event_stream_body", "run_body", "streaming_body"]

logger = logging.getLogger("trio_sse")

#: The idle heartbeat: an empty comment, ignored by every client.
HEARTBEAT: Final = b":\n\n"


class Body(NamedTuple):
    """What :func:`run_body` runs: the producer and the stream's policies."""

    produce: Callable[[], Awaitable[None]]
    #: Seconds of idleness before a heartbeat is written, or ``None``.
    heartbeat: float | None = None
    heartbeat_bytes: bytes = b""
    #: Written when the server shuts down, before the body ends.
    farewell: bytes | None = None
    #: Whether this is an event stream (counted in ``event_streams_open``).
    event_stream: bool = False


def streaming_body(channel: ResponseChannel, response: StreamingResponse) -> Body:
    """The body of a :class:`~trio_sse.StreamingResponse`: its iterable, piece by piece."""
    content = response.content
    write = channel.write_body

    async def produce() -> None:
        if isinstance(content, AsyncIterable):
            async for piece in content:
                if piece:
                    await write(piece.encode() if isinstance(piece, str) else piece)
        else:
            for piece in content:
                if piece:
                    await write(piece.encode() if isinstance(piece, str) else piece)
                else:
                    await trio.lowlevel.checkpoint()

    return Body(produce)


def event_stream_body(
    channel: ResponseChannel, request: Request, response: EventStreamResponse, config: Config
) -> Body:
    """The body of an :class:`~trio_sse.EventStreamResponse`: its producer, heartbeat,
    farewell and ``retry`` hint. Call it when the head has been written."""
    stream = EventStream(channel, request)
    heartbeat = (
        config.heartbeat_interval
        if isinstance(response.heartbeat, UseConfig)
        else response.heartbeat
    )
    producer = response.producer
    retry = response.retry
    produce: Callable[[], Awaitable[None]]
    if retry is None:
        # Bound like a method: no wrapper frame on the stack (as a partial), in 72 B
        # where a partial takes 200 (with its argument tuple and keyword dict).
        produce = types.MethodType(producer, stream)
    else:

        async def produce() -> None:
            await stream.send(ServerSentEvent(retry=retry))
            await producer(stream)

    farewell = response.farewell
    return Body(
        produce,
        heartbeat,
        HEARTBEAT,
        farewell.encode() if farewell is not None else None,
        event_stream=True,
    )


class _Outcome:
    __slots__ = ("error", "peer_gone")

    def __init__(self) -> None:
        self.error = False  # the producer raised (logged already)
        self.peer_gone = False  # the peer left (EOF, reset, send failure, send timeout)


async def run_body(channel: ResponseChannel, body: Body) -> None:
    """Run *body* over *channel* until the producer ends, the peer leaves or shutdown.

    Never raises ``Exception``: the producer's errors are logged and counted, the peer's
    departure ends the body quietly. Whether the body was terminated properly is the
    channel's to tell (an HTTP/1.1 connection is reused only then).
    """
    counters = channel.counters
    outcome = _Outcome()
    shutdown = False
    if body.event_stream:
        counters.event_streams_open += 1
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_run_producer, channel, body.produce, nursery.cancel_scope, outcome)
            # Inline (this frame waits as long as the stream lives; one frame fewer on
            # every open stream's stack): write idle heartbeats until the peer leaves or
            # the server shuts down. The producer ending cancels this from its side.
            heartbeat = body.heartbeat
            try:
                while True:
                    since = channel.idle_since
                    deadline = math.inf if heartbeat is None or since is None else since + heartbeat
                    watched = await channel.watch(deadline)
                    if watched is Watch.PEER_GONE:
                        outcome.peer_gone = True
                        break
                    if watched is Watch.SHUTDOWN:
                        shutdown = True
                        break
                    # Nothing written since the deadline was set, and no write under way?
                    since = channel.idle_since
                    if (
                        heartbeat is not None
                        and since is not None
                        and trio.current_time() >= since + heartbeat
                    ):
                        await channel.write_body(body.heartbeat_bytes)
                        if body.event_stream:
                            counters.events_sent += 1
                            counters.bytes_sent += len(body.heartbeat_bytes)
            except StreamClosedError:  # a heartbeat could not be written
                outcome.peer_gone = True
            nursery.cancel_scope.cancel()
    finally:
        if body.event_stream:
            counters.event_streams_open -= 1
        if outcome.peer_gone:  # (also when the stream is cancelled as the nursery exits)
            counters.stream_disconnects += 1
    if outcome.peer_gone:
        return
    if shutdown and body.farewell is not None:
        try:
            await channel.write_body(body.farewell)
        except StreamClosedError:
            return
    if not outcome.error:
        await channel.end_body()
    # After a producer error: no terminating chunk, the client sees an aborted body.


async def _run_producer(
    channel: ResponseChannel,
    produce: Callable[[], Awaitable[None]],
    scope: trio.CancelScope,
    outcome: _Outcome,
) -> None:
    counters = channel.counters
    counters.tickers_active += 1
    try:
        await produce()
    except StreamClosedError:
        outcome.peer_gone = True
    except Exception:
        counters.handler_errors += 1
        outcome.error = True
        logger.exception("stream producer failed for client %s", channel.peer)
    finally:
        counters.tickers_active -= 1
        scope.cancel()
